"""Read JSON request bodies: media type and size checked before the body is read."""

from __future__ import annotations

from fastapi import Request

from services.errors import DomainError


async def read_json_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, after checking its media type and size (413 before reading a too-large one)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json") and "+json" not in content_type:
        raise DomainError(
            415, "unsupported-media-type", "Unsupported media type",
            f"send application/json, not '{content_type or 'nothing'}'",
        )  # fmt: skip
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > max_bytes:
            raise _too_large(max_bytes)
        return await request.body()  # the server enforces Content-Length
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> DomainError:
    return DomainError(413, "body-too-large", "Request body too large", f"the body exceeds {max_bytes} bytes")
