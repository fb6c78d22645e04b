"""RFC 9457 problem details: the body of every 4xx/5xx answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://leadrouter.dev/problems/"


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Dotted path of the field, or 'body' for the whole body")
    message: str
    code: str
    line: int | None = Field(default=None, description="Line in a YAML/text body (agreements), from 1")
    column: int | None = Field(default=None, description="Column in a YAML/text body, from 1")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
