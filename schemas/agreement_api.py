"""Bodies of the agreement lifecycle API (``/v1/agreements``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.problems import FieldError

AGREEMENT_MEDIA_TYPES = (
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "application/json",
)


class AgreementVersionOut(BaseModel):
    """One stored version of an agreement, without its text."""

    agreement_id: str
    version: int
    status: Literal["draft", "active", "retired"]
    title: str
    valid: bool = Field(description="Compiles and passes its embedded test cases (required to activate)")
    problems: list[FieldError] = Field(description="What is wrong with it, by line and column")
    digest: str = Field(description="SHA-256 of the source text")
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


class AgreementVersionDetail(AgreementVersionOut):
    """One stored version with its YAML source and, when it compiles, the validated document."""

    source: str
    document: dict[str, Any] | None = Field(
        description="The document as validated (null if it does not compile)"
    )


class AgreementVersionList(BaseModel):
    """Stored versions, by agreement id and version."""

    versions: list[AgreementVersionOut]


class AgreementValidation(BaseModel):
    """The result of checking an agreement text without storing it."""

    valid: bool
    agreement_id: str | None
    version: int | None
    problems: list[FieldError]


class AgreementChange(BaseModel):
    """One difference between two versions: ``+`` added, ``-`` removed, ``~`` changed."""

    op: Literal["+", "-", "~"]
    path: str = Field(description="Dotted path; rules and queues keyed by id, e.g. queues[smb].when")
    before: Any = None
    after: Any = None


class AgreementDiff(BaseModel):
    """What changed from one version to another."""

    agreement_id: str
    from_version: int
    to_version: int
    changes: list[AgreementChange]
