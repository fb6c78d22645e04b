"""Read and validate JSON request bodies: size limit, media type, pydantic on the raw bytes."""

from __future__ import annotations

import hashlib
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from services.api.problems import invalid_body
from services.errors import DomainError

M = TypeVar("M", bound=BaseModel)


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


def parse_body(model: type[M], raw: bytes) -> M:
    """Validate ``raw`` JSON as ``model``; 400 for malformed JSON, 422 naming each bad field."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise invalid_body(error) from None


def body_hash(raw: bytes) -> str:
    """SHA-256 of the body: detects an idempotency key reused with another body."""
    return hashlib.sha256(raw).hexdigest()


def _too_large(max_bytes: int) -> DomainError:
    return DomainError(413, "body-too-large", "Request body too large", f"the body exceeds {max_bytes} bytes")
