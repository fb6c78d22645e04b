"""The API process and its writer process understand each other's lines."""

from __future__ import annotations

import uuid
from collections import Counter

import orjson
import pytest

from schemas.leads import ActivityIn, LeadIn
from schemas.problems import FieldError
from services.errors import DomainError
from services.ingest import BatchEffects, RecordActivity, Reply, UpsertLead
from services.writer.wire import (
    READY,
    BatchReport,
    decode_command,
    decode_message,
    encode_command,
    encode_reply,
    encode_report,
)


def test_commands_round_trip_with_their_raw_body() -> None:
    raw = b'{"source": "crm", "external_id": "7", "email": "Ada@Example.com", "tags": ["x"]}'
    command = UpsertLead(LeadIn.model_validate_json(raw), "lead:crm:k", "h1", raw)
    line = encode_command(41, command)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    request_id, decoded = decode_command(line)
    assert request_id == 41
    assert decoded == command
    activity = RecordActivity(
        uuid.uuid4(), ActivityIn(type="page_view"), "activity:x:k", "h2", b'{"type":"page_view"}'
    )
    assert decode_command(encode_command(42, activity)) == (42, activity)


def test_replies_errors_and_reports_round_trip() -> None:
    reply = Reply(201, {"lead_id": "L", "owner": None}, "crm", "lead", "created", replayed=False)
    assert decode_message(encode_reply(1, reply)) == (1, reply)
    error = DomainError(
        409, "idempotency-key-reused", "Reused", "detail",
        errors=[FieldError(field="body", message="m", code="c")], headers={"Retry-After": "1"},
    )  # fmt: skip
    request_id, decoded = decode_message(encode_reply(2, error))  # type: ignore[misc]
    assert request_id == 2
    assert isinstance(decoded, DomainError)
    assert (decoded.status, decoded.slug, decoded.errors, decoded.headers) == (
        409, "idempotency-key-reused", error.errors, {"Retry-After": "1"},
    )  # fmt: skip
    effects = BatchEffects([("new", "mql")], ["q1"], [("q1", "first_touch")], 3)
    report = BatchReport.of([reply, reply, error], effects, 3)
    assert report.outcomes == Counter({("crm", "lead", "created"): 2})
    assert decode_message(encode_report(report)) == report
    assert decode_message(READY) is None


def test_unexpected_errors_become_a_500_problem() -> None:
    _, decoded = decode_message(encode_reply(3, RuntimeError("secret detail")))  # type: ignore[misc]
    assert isinstance(decoded, DomainError)
    assert decoded.status == 500
    assert "secret" not in orjson.dumps(decoded.detail).decode()


def test_a_tampered_body_is_rejected_by_the_writer() -> None:
    line = orjson.dumps(
        {"id": 1, "kind": "lead", "lead_id": None, "key": "k", "hash": "h", "raw": '{"source": "x"}'}
    )
    with pytest.raises(ValueError, match="validation error"):
        decode_command(line)
