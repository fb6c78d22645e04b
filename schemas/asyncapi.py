"""The AsyncAPI 3.0 document of the events leadrouter publishes, built from the payload models.

Served at ``GET /asyncapi.json``; topic names come from the settings, so the document describes the
deployment that serves it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.events import (
    AGREEMENT_ACTIVATED,
    AGREEMENT_REVIEW_DUE,
    LEAD_HANDED_OFF,
    LEAD_RECYCLED,
    LEAD_STAGE_CHANGED,
    LEAD_UNASSIGNED,
    SLA_BREACHED,
    SLA_ESCALATED,
    SLA_MET,
    SLA_PAUSED,
    SLA_RESUMED,
    SLA_WARNING,
    AgreementActivated,
    AgreementReviewDue,
    CloudEvent,
    HandedOff,
    Recycled,
    SlaClockEvent,
    SlaEscalated,
    StageChanged,
    Unassigned,
)
from schemas.leads import FeedbackIn

# (event type, payload model, the settings field naming its topic, what the Kafka key is)
EVENTS: tuple[tuple[str, type[BaseModel], str, str], ...] = (
    (LEAD_HANDED_OFF, HandedOff, "topic_handoff", "lead id"),
    (LEAD_UNASSIGNED, Unassigned, "topic_handoff", "lead id"),
    (LEAD_STAGE_CHANGED, StageChanged, "topic_lifecycle", "lead id"),
    (LEAD_RECYCLED, Recycled, "topic_lifecycle", "lead id"),
    (AGREEMENT_ACTIVATED, AgreementActivated, "topic_lifecycle", "agreement id"),
    (AGREEMENT_REVIEW_DUE, AgreementReviewDue, "topic_lifecycle", "agreement id"),
    (SLA_WARNING, SlaClockEvent, "topic_sla", "lead id"),
    (SLA_BREACHED, SlaClockEvent, "topic_sla", "lead id"),
    (SLA_MET, SlaClockEvent, "topic_sla", "lead id"),
    (SLA_PAUSED, SlaClockEvent, "topic_sla", "lead id"),
    (SLA_RESUMED, SlaClockEvent, "topic_sla", "lead id"),
    (SLA_ESCALATED, SlaEscalated, "topic_sla", "lead id"),
)


FEEDBACK_TOPIC = "topic_feedback"  # consumed: sales feedback (services.workers.feedback)


def topic_names(settings: object) -> dict[str, str]:
    """The topic of each settings field the document names (``topic_handoff`` ...), from ``settings``."""
    fields = {topic for _, _, topic, _ in EVENTS} | {FEEDBACK_TOPIC}
    return {field: str(getattr(settings, field)) for field in sorted(fields)}


def _feedback_message_schema() -> dict[str, Any]:
    schema = FeedbackIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["title"] = "FeedbackMessage"
    schema["properties"] = {"lead_id": {"type": "string", "format": "uuid"}, **schema["properties"]}
    schema["required"] = ["lead_id", *schema.get("required", [])]
    schema["description"] = (
        "Sales feedback sent by a sales tool: the lead id and the body of POST /v1/leads/{id}/feedback. "
        "Key it by lead id. Idempotent by event_id, else by topic, partition and offset."
    )
    return schema


def _message_name(event_type: str) -> str:
    return event_type.rpartition(".")[0].rpartition(".")[2] + "_" + event_type.rpartition(".")[2]


def asyncapi_document(topics: dict[str, str], version: str) -> dict[str, Any]:
    """AsyncAPI 3.0 for ``topics`` (settings field -> topic name): channels, messages, send operations."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for event_type, model, topic_field, key in EVENTS:
        name = _message_name(event_type)
        envelope = CloudEvent.model_json_schema(ref_template="#/components/schemas/{model}")
        envelope["properties"]["type"] = {"const": event_type}
        envelope["properties"]["data"] = {"$ref": f"#/components/schemas/{model.__name__}"}
        payload = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(payload.pop("$defs", {}))  # nested models: their refs point at components/schemas
        schemas[model.__name__] = payload
        schemas[f"{name}_event"] = envelope
        messages[name] = {
            "name": event_type,
            "title": model.__doc__.strip().splitlines()[0] if model.__doc__ else event_type,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}_event"},
            "bindings": {"kafka": {"key": {"type": "string", "description": f"The {key}"}}},
        }
        channel = channels.setdefault(
            topic_field,
            {
                "address": topics[topic_field],
                "messages": {},
                "description": f"Kafka topic {topics[topic_field]}",
            },
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    schemas["FeedbackMessage"] = _feedback_message_schema()
    messages["feedback"] = {
        "name": "feedback",
        "title": "Sales feedback on a lead (accepted, rejected with a reason, touched, converted ...)",
        "contentType": "application/json",
        "payload": {"$ref": "#/components/schemas/FeedbackMessage"},
    }
    channels[FEEDBACK_TOPIC] = {
        "address": topics[FEEDBACK_TOPIC],
        "messages": {"feedback": {"$ref": "#/components/messages/feedback"}},
        "description": f"Kafka topic {topics[FEEDBACK_TOPIC]} (consumed; offsets committed after the commit)",
    }
    operations = {
        f"publish_{field}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{field}"},
            "messages": [{"$ref": f"#/channels/{field}/messages/{m}"} for m in channel["messages"]],
        }
        for field, channel in channels.items()
        if field != FEEDBACK_TOPIC
    }
    operations["receive_feedback"] = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{FEEDBACK_TOPIC}"},
        "messages": [{"$ref": f"#/channels/{FEEDBACK_TOPIC}/messages/feedback"}],
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "leadrouter events",
            "version": version,
            "description": "CloudEvents 1.0 (structured JSON), published at least once from the outbox: "
            "deduplicate on the event id.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
