"""The wire format between the API process and its writer process: one JSON document per line.

API -> writer: ingest requests with their raw bodies (the writer validates them). Writer -> API: one
reply per request, one report per committed batch (for the API process's metrics), and a ``ready``
line at start-up.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.problems import FieldError
from services.errors import DomainError, internal_error
from services.ingest import BatchEffects, Reply
from services.ingest_request import IngestRequest


@dataclass(slots=True)
class BatchReport:
    """What one committed batch did: the counts behind the ingest metrics."""

    size: int
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (source, kind, outcome)
    transitions: list[tuple[str, str]] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    clocks_met: list[tuple[str, str]] = field(default_factory=list)
    outbox_rows: int = 0
    unassigned: list[str] = field(default_factory=list)
    recycled: list[str] = field(default_factory=list)
    first_touches: list[tuple[str, float]] = field(default_factory=list)  # (queue, business seconds)

    @classmethod
    def of(cls, replies: list[Reply | DomainError], effects: BatchEffects, size: int) -> BatchReport:
        """Summarise a batch's replies and effects."""
        outcomes = Counter((r.source, r.kind, r.outcome) for r in replies if isinstance(r, Reply))
        return cls(
            size, outcomes, effects.transitions, effects.handoffs, effects.clocks_met, effects.outbox_rows,
            effects.unassigned, effects.recycled, effects.first_touches,
        )  # fmt: skip


def encode_request(request_id: int, request: IngestRequest) -> bytes:
    """An ingest request as one line (the body travels as sent: JSON text is valid UTF-8)."""
    message = {
        "id": request_id, "kind": request.kind, "lead_id": str(request.lead_id) if request.lead_id else None,
        "key": request.idempotency_key, "raw": request.raw.decode(),
    }  # fmt: skip
    return orjson.dumps(message) + b"\n"


def decode_request(line: bytes) -> tuple[int, IngestRequest]:
    """The request of a line written by ``encode_request``."""
    message = orjson.loads(line)
    lead_id = uuid.UUID(message["lead_id"]) if message["lead_id"] else None
    return message["id"], IngestRequest(message["kind"], message["raw"].encode(), lead_id, message["key"])


def encode_reply(request_id: int, outcome: Reply | BaseException) -> bytes:
    """One command's answer as a line; unexpected exceptions become a 500 problem."""
    if isinstance(outcome, Reply):
        reply = {
            "id": request_id, "status": outcome.status, "body": outcome.body, "source": outcome.source,
            "kind": outcome.kind, "outcome": outcome.outcome, "replayed": outcome.replayed,
        }  # fmt: skip
        return orjson.dumps(reply) + b"\n"
    error = outcome if isinstance(outcome, DomainError) else internal_error()
    problem = {
        "status": error.status, "slug": error.slug, "title": error.title, "detail": error.detail,
        "errors": [e.model_dump() for e in error.errors], "headers": error.headers,
    }  # fmt: skip
    return orjson.dumps({"id": request_id, "error": problem}) + b"\n"


def encode_report(report: BatchReport) -> bytes:
    """A batch report as a line."""
    body: dict[str, Any] = {
        "size": report.size,
        "outcomes": [[*labels, count] for labels, count in report.outcomes.items()],
        "transitions": report.transitions,
        "handoffs": report.handoffs,
        "clocks_met": report.clocks_met,
        "outbox_rows": report.outbox_rows,
        "unassigned": report.unassigned,
        "recycled": report.recycled,
        "first_touches": report.first_touches,
    }
    return orjson.dumps({"report": body}) + b"\n"


def decode_message(line: bytes) -> tuple[int, Reply | DomainError] | BatchReport | None:
    """A writer line: a reply (with its request id), a batch report, or None for ``ready``."""
    message = orjson.loads(line)
    if "report" in message:
        body = message["report"]
        outcomes: Counter[tuple[str, str, str]] = Counter({(s, k, o): n for s, k, o, n in body["outcomes"]})
        return BatchReport(
            body["size"],
            outcomes,
            [tuple(t) for t in body["transitions"]],
            body["handoffs"],
            [tuple(c) for c in body["clocks_met"]],
            body["outbox_rows"],
            body["unassigned"],
            body["recycled"],
            [(queue, seconds) for queue, seconds in body["first_touches"]],
        )
    if "ready" in message:
        return None
    if "error" in message:
        e = message["error"]
        errors = [FieldError.model_validate(item) for item in e["errors"]]
        error = DomainError(
            e["status"], e["slug"], e["title"], e["detail"], errors=errors, headers=e["headers"]
        )
        return message["id"], error
    reply = Reply(
        message["status"],
        message["body"],
        message["source"],
        message["kind"],
        message["outcome"],
        message["replayed"],
    )
    return message["id"], reply


READY = orjson.dumps({"ready": True}) + b"\n"
