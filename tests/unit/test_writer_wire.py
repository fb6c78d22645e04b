"""The API process and its writer process understand each other's lines."""

from __future__ import annotations

import uuid
from collections import Counter

import orjson
import pytest

from schemas.problems import FieldError
from services.errors import DomainError
from services.ingest import BatchEffects, Reply, UpsertLead
from services.ingest_request import IngestRequest, to_command
from services.writer.wire import (
    READY,
    BatchReport,
    decode_message,
    decode_request,
    encode_reply,
    encode_report,
    encode_request,
)


def test_requests_round_trip_with_their_raw_body() -> None:
    raw = b'{"source": "crm", "external_id": "7", "email": "Ada@Example.com", "tags": ["x"]}'
    request = IngestRequest("lead", raw, None, "retry-1")
    line = encode_request(41, request)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode_request(line) == (41, request)
    activity = IngestRequest("activity", b'{"type":"page_view"}', uuid.uuid4(), None)
    assert decode_request(encode_request(42, activity)) == (42, activity)


def test_requests_are_validated_where_they_are_applied() -> None:
    raw = b'{"source": "crm", "external_id": "7", "email": "Ada@Example.com"}'
    command = to_command(IngestRequest("lead", raw, None, "retry-1"))
    assert isinstance(command, UpsertLead)
    assert command.event_key == "lead:crm:retry-1"
    assert command.body.email == "ada@example.com"
    by_event_id = to_command(
        IngestRequest("feedback", b'{"outcome":"touched","event_id":"e9"}', uuid.uuid4())
    )
    assert by_event_id.event_key.endswith(":e9")
    hashed = to_command(IngestRequest("activity", b'{"type":"chat"}', uuid.uuid4()))
    assert hashed.event_key.endswith(":sha256:" + hashed.request_hash)
    with pytest.raises(DomainError) as caught:
        to_command(IngestRequest("lead", b'{"source": "x"}'))
    assert caught.value.status == 422
    assert {"external_id", "email"} <= {e.field for e in caught.value.errors}
    with pytest.raises(DomainError) as too_long:
        to_command(IngestRequest("lead", raw, None, "k" * 129))
    assert too_long.value.errors[0].field == "header.Idempotency-Key"


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
    effects = BatchEffects(
        [("new", "mql")], ["q1"], ["q2"], ["no_budget"], [("q1", "first_touch")], 3, [("q1", 5400.5)]
    )
    report = BatchReport.of([reply, reply, error], effects, 3)
    assert report.outcomes == Counter({("crm", "lead", "created"): 2})
    assert decode_message(encode_report(report)) == report
    assert decode_message(READY) is None


def test_unexpected_errors_become_a_500_problem() -> None:
    _, decoded = decode_message(encode_reply(3, RuntimeError("secret detail")))  # type: ignore[misc]
    assert isinstance(decoded, DomainError)
    assert decoded.status == 500
    assert "secret" not in orjson.dumps(decoded.detail).decode()
