"""Edge models: e-mail normalisation and validation, CloudEvents of the outbox."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.asyncapi import asyncapi_document
from schemas.events import CloudEvent
from schemas.leads import FeedbackIn, LeadIn, normalise_email
from services.events import _NAMESPACE, outbox_row, stable_event_id


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (" Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("o'neil+crm@sub.example.co.uk", "o'neil+crm@sub.example.co.uk"),
    ],
)
def test_emails_are_normalised(raw: str, normal: str) -> None:
    assert normalise_email(raw) == normal


@pytest.mark.parametrize(
    "bad", ["", "plain", "a@b", "a@@b.com", "a b@c.com", "a@-b.com", f"{'x' * 65}@b.com", "a@b..com"]
)
def test_bad_emails_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="not a valid e-mail"):
        normalise_email(bad)


def test_lead_model_rejects_unknown_fields_and_normalises_country() -> None:
    lead = LeadIn.model_validate({"source": "s", "external_id": "1", "email": "a@b.com", "country": "de"})
    assert lead.country == "DE"
    with pytest.raises(ValidationError):
        LeadIn.model_validate({"source": "s", "external_id": "1", "email": "a@b.com", "colour": "red"})


def test_rejection_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason is required"):
        FeedbackIn.model_validate({"outcome": "rejected"})
    assert FeedbackIn.model_validate({"outcome": "rejected", "reason": "no_budget"}).reason == "no_budget"


def test_outbox_rows_hold_valid_cloudevents_with_stable_ids() -> None:
    at = datetime(2026, 1, 5, 10, tzinfo=UTC)
    row = outbox_row(
        topic="t", event_type="com.leadrouter.x", cause="lead:s:1", subject="L", data={"a": 1}, at=at
    )
    event = CloudEvent.model_validate(row["event"])
    assert event.id == row["event_id"] == stable_event_id("lead:s:1", "com.leadrouter.x")
    assert event.subject == row["key"] == "L"
    assert stable_event_id("lead:s:1", "com.leadrouter.y") != event.id


@given(cause=st.text(), event_type=st.text())
def test_stable_event_ids_are_the_uuid5_of_cause_and_type(cause: str, event_type: str) -> None:
    # Ids already published must not change: the fast form is exactly uuid5 (surrogates aside,
    # which no cause of ours holds and neither form can encode).
    try:
        expected = str(uuid.uuid5(_NAMESPACE, f"{cause}\x00{event_type}"))
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            stable_event_id(cause, event_type)
        return
    assert stable_event_id(cause, event_type) == expected


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    """Nested payload models (skipped reps, escalation outcomes) are components of their own."""
    document = asyncapi_document({"topic_handoff": "h", "topic_lifecycle": "l", "topic_sla": "s",
                                  "topic_feedback": "f"}, "test")  # fmt: skip
    text = json.dumps(document)
    refs = set(re.findall(r'"\$ref": "#/([^"]+)"', text))
    assert {"components/schemas/SkippedRep", "components/schemas/EscalationOutcome"} <= refs
    for ref in refs:
        node: Any = document
        for part in ref.split("/"):
            assert part in node, f"#/{ref} does not resolve"
            node = node[part]
    assert "$defs" not in text
