"""Ingest requests as received, and their validation into commands where the transaction runs.

The API process checks media type and size, then hands the raw body on; validation, the event key
and the body hash are computed once, by whoever applies the command (the writer process, or the
API process itself in ``in_process`` mode). Bad input still gets a 400/422 problem naming the field,
and nothing is stored.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.leads import ActivityIn, FeedbackIn, LeadIn
from schemas.problems import FieldError
from schemas.text import nul_errors
from schemas.webhooks import WebhookDelivery
from services.errors import DomainError
from services.ingest import ApplyDelivery, Command, RecordActivity, RecordFeedback, UpsertLead

M = TypeVar("M", bound=BaseModel)
RequestKind = Literal["lead", "activity", "feedback", "webhook"]
MAX_KEY_LENGTH = 128


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """A POST to an ingest route, before validation."""

    kind: RequestKind
    raw: bytes
    lead_id: uuid.UUID | None = None
    idempotency_key: str | None = None


def field_errors(errors: list[Any]) -> list[FieldError]:
    """Pydantic error dicts as field errors with dotted paths (``body`` for the whole body)."""
    return [
        FieldError(
            field=".".join(str(p) for p in e.get("loc", ())) or "body", message=e["msg"], code=e["type"]
        )
        for e in errors
    ]


def invalid_body(error: ValidationError) -> DomainError:
    """The 400 for a body that is not JSON, the 422 naming each field that does not fit."""
    errors = error.errors(include_url=False, include_input=False)
    fields = field_errors(errors)
    if any(e["type"] == "json_invalid" for e in errors):
        return DomainError(
            400, "malformed-json", "Malformed JSON", "the request body is not valid JSON", errors=fields
        )
    names = ", ".join(f.field for f in fields[:5])
    return DomainError(
        422, "validation-error", "Invalid request body", f"invalid field(s): {names}", errors=fields
    )


def parse_body(model: type[M], raw: bytes) -> M:
    """Validate ``raw`` JSON as ``model``; 400 for malformed JSON, 422 naming each bad field (also
    each string holding a NUL, which PostgreSQL cannot store: refused on either database)."""
    try:
        parsed = model.model_validate_json(raw)
    except ValidationError as error:
        raise invalid_body(error) from None
    if errors := nul_errors(raw):
        raise DomainError(
            422, "validation-error", "Invalid request body", "NUL characters are not accepted", errors=errors
        )
    return parsed


def to_command(request: IngestRequest) -> Command:
    """Validate the request's body and derive its idempotency key: event id, header, or body hash."""
    digest = hashlib.sha256(request.raw).hexdigest()
    if request.kind == "lead":
        lead = parse_body(LeadIn, request.raw)
        return UpsertLead(
            lead, _key(f"lead:{lead.source}", lead.event_id, request, digest), digest, request.raw
        )
    if request.kind == "webhook":  # verified and mapped by the API process (services.webhooks)
        delivery = parse_body(WebhookDelivery, request.raw)
        return ApplyDelivery(
            delivery, f"webhook:{delivery.source}:{delivery.delivery_id}", digest, request.raw
        )
    assert request.lead_id is not None
    if request.kind == "activity":
        activity = parse_body(ActivityIn, request.raw)
        key = _key(f"activity:{request.lead_id}", activity.event_id, request, digest)
        return RecordActivity(request.lead_id, activity, key, digest, request.raw)
    feedback = parse_body(FeedbackIn, request.raw)
    key = _key(f"feedback:{request.lead_id}", feedback.event_id, request, digest)
    return RecordFeedback(request.lead_id, feedback, key, digest, request.raw)


def _key(scope: str, event_id: str | None, request: IngestRequest, digest: str) -> str:
    key = event_id or request.idempotency_key or f"sha256:{digest}"
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            422, "validation-error", "Invalid Idempotency-Key",
            f"Idempotency-Key exceeds {MAX_KEY_LENGTH} characters",
            errors=[FieldError(field="header.Idempotency-Key", message="too long", code="string_too_long")],
        )  # fmt: skip
    return f"{scope}:{key}"
