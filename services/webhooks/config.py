"""The webhook sources file (``LEADROUTER_WEBHOOKS_PATH``): which CRMs may post, how each signs its
requests, and how its properties map to lead fields. Secrets are named, never written, in the file:
each source reads its secret from the environment variable it names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from schemas.leads import LeadProfile
from services.webhooks.signatures import standard_secret_problem
from services.yaml_documents import (
    DocumentError,
    DocumentProblem,
    locate,
    read_document_file,
    validate_document,
)

AdapterName = Literal["hubspot", "salesforce", "standard"]
SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
ATTRIBUTE_PREFIX = "attributes."
_LEAD_FIELDS = frozenset(LeadProfile.model_fields) - {"attributes"}


class FieldRule(BaseModel):
    """Where one CRM property goes, and how its values translate."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="A lead field (email, employees, ...) or attributes.<name>")
    values: dict[str, str | None] | None = Field(
        default=None,
        description="CRM value -> lead value (e.g. a lifecycle stage); a value not listed leaves the "
        "field as it is",
    )
    separator: str = Field(default=";", min_length=1, description="Splits a text into a list field")

    @field_validator("to")
    @classmethod
    def _known_target(cls, value: str) -> str:
        if value in _LEAD_FIELDS:
            return value
        name = value.removeprefix(ATTRIBUTE_PREFIX)
        if value.startswith(ATTRIBUTE_PREFIX) and 0 < len(name) <= 128:
            return value
        known = ", ".join(sorted(_LEAD_FIELDS))
        raise ValueError(f"'{value}' is not a lead field; use one of {known} or attributes.<name>")


def _rule_of(value: object) -> object:
    """``email: email`` is short for ``email: {to: email}``."""
    return {"to": value} if isinstance(value, str) else value


class SourceConfig(BaseModel):
    """One CRM allowed to post to ``/v1/webhooks/<name>``."""

    model_config = ConfigDict(extra="forbid")

    adapter: AdapterName
    secret_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$", description="Environment variable holding the secret"
    )
    tolerance_seconds: int = Field(
        default=300, ge=10, le=3600, description="Oldest signature timestamp accepted"
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="hubspot: the URL as registered in HubSpot, when a proxy changes what the service sees",
    )
    id_property: str | None = Field(
        default=None, min_length=1, description="The record id property (salesforce: Id, standard: id)"
    )
    fields: dict[str, Annotated[FieldRule, BeforeValidator(_rule_of)]] = Field(
        min_length=1, description="CRM property -> lead field, or a rule {to, values, separator}"
    )
    unmapped: Literal["ignore", "attributes"] = Field(
        default="ignore", description="What happens to properties not in fields"
    )

    def rule(self, name: str) -> FieldRule | None:
        """The rule for CRM property ``name``, if it is mapped."""
        return self.fields.get(name)


class WebhooksDocument(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    sources: dict[SourceName, SourceConfig] = Field(min_length=1)


@dataclass(frozen=True)
class WebhookSource:
    """A configured source with its secret read from the environment."""

    name: str
    config: SourceConfig
    secret: str


def load_webhook_sources(path: Path, environ: dict[str, str] | None = None) -> dict[str, WebhookSource]:
    """Read the sources file; ``DocumentError`` names the file and line of anything wrong, including
    a secret variable that is unset or empty."""
    env = os.environ if environ is None else environ
    document, positions = validate_document(read_document_file(path), path, WebhooksDocument)
    sources, problems = {}, []
    for name, config in document.sources.items():
        secret = env.get(config.secret_env, "")
        if not secret:
            line, column, field = locate(positions, ("sources", name, "secret_env"))
            problems.append(
                DocumentProblem(
                    line, column, field, f"environment variable {config.secret_env} is unset or empty"
                )
            )
            continue
        problem = standard_secret_problem(secret) if config.adapter == "standard" else None
        if problem is not None:
            line, column, field = locate(positions, ("sources", name, "secret_env"))
            problems.append(DocumentProblem(line, column, field, f"{config.secret_env} {problem}"))
            continue
        sources[name] = WebhookSource(name, config, secret)
    if problems:
        raise DocumentError(path, problems)
    return sources
