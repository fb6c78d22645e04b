"""Text the API accepts: no NUL characters, which PostgreSQL cannot store in text or JSON.

JSON may carry a NUL as the escape ``\\u0000``. SQLite would store it and PostgreSQL refuse the whole
transaction, so a request with one gets a 422 naming the field on either database.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, StringConstraints

from schemas.problems import FieldError

NUL_ESCAPE = b"\\u0000"  # how a NUL appears in JSON text (a raw NUL byte is not valid JSON)


def without_nul(value: str) -> str:
    """``value`` if it holds no NUL character."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def nul_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where in a parsed JSON document a string (a value or an object key) holds a NUL."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found: list[tuple[str | int, ...]] = []
        for key, item in value.items():
            found += [(*path, key)] if "\x00" in key else nul_paths(item, (*path, key))
        return found
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in nul_paths(item, (*path, index))]
    return []


def nul_errors(raw: bytes, prefix: tuple[str, ...] = ()) -> list[FieldError]:
    """A field error for each string of the JSON document ``raw`` holding a NUL (at most 20).

    A byte search first: the document is parsed only if the escape occurs (it may also be an escaped
    backslash followed by the letters "u0000"), so the common case costs almost nothing.
    """
    if NUL_ESCAPE not in raw:
        return []
    return [
        FieldError(field=".".join(map(str, (*prefix, *path))) or "body", message="contains a NUL", code="nul")
        for path in nul_paths(orjson.loads(raw))[:20]
    ]


Reason = Annotated[str, StringConstraints(max_length=200), AfterValidator(without_nul)]
"""A short free-text reason (out of office, pausing, reassigning)."""
