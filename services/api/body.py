"""Read request bodies (JSON, or text such as agreement YAML): media type and size checked first."""

from __future__ import annotations

from fastapi import Request

from schemas.problems import FieldError
from services.errors import DomainError


async def read_json_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, after checking its media type and size (413 before reading a too-large one)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json") and "+json" not in content_type:
        raise _unsupported("application/json", content_type)
    body = await _read_limited(request, max_bytes)
    try:
        body.decode("utf-8")  # JSON is UTF-8 (RFC 8259); checked here, before it is queued anywhere
    except UnicodeDecodeError as error:
        raise DomainError(
            400,
            "malformed-json",
            "Malformed JSON",
            f"the body is not UTF-8 (byte {error.start})",
            errors=[FieldError(field="body", message="not UTF-8", code="invalid_encoding")],
        ) from None
    return body


async def read_text_body(request: Request, max_bytes: int, media_types: tuple[str, ...]) -> str:
    """A UTF-8 text body of one of ``media_types`` (checked, like its size, before reading it)."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() not in media_types:
        raise _unsupported(" or ".join(media_types), content_type)
    body = await _read_limited(request, max_bytes)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DomainError(
            400, "malformed-body", "Malformed body", f"the body is not UTF-8 text (byte {error.start})"
        ) from None


def _unsupported(wanted: str, content_type: str) -> DomainError:
    return DomainError(
        415, "unsupported-media-type", "Unsupported media type",
        f"send {wanted}, not '{content_type or 'nothing'}'",
    )  # fmt: skip


async def _read_limited(request: Request, max_bytes: int) -> bytes:
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
