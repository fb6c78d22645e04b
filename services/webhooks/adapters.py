"""Per-CRM adapters: check a delivery's signature, read its records, map them to lead changes.

- ``hubspot``: a webhook subscription batch (a JSON array of events). ``contact.creation`` names a
  new record; ``contact.propertyChange`` carries one property. Other event types are not about
  lead data and are skipped. A batch has no id of its own: the delivery id is a digest of its event
  ids, and each event is applied once by its ``eventId`` whatever batch it comes in.
- ``salesforce``: ``{"deliveryId": ..., "records": [<sObject JSON>...]}`` as a Flow or Apex callout
  sends it (``JSON.serialize`` of the records); a record's change is identified by its id and
  ``LastModifiedDate`` (or ``SystemModstamp``).
- ``standard``: the Standard Webhooks spec; the body is ``{"type": ..., "data": <record or list>}``
  and the delivery id is the ``webhook-id`` header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from schemas.leads import Key
from schemas.problems import FieldError
from schemas.text import nul_errors
from schemas.webhooks import MAX_CHANGES, WebhookDelivery
from services.ingest_request import field_errors
from services.webhooks.config import WebhookSource
from services.webhooks.mapping import PayloadError, RawRecord, map_delivery
from services.webhooks.signatures import verify_hubspot, verify_salesforce, verify_standard

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_KEY = 128
_MAX_EPOCH_MS = 253_402_300_799_000  # 9999-12-31


class _HubSpotEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    eventId: int | Id  # noqa: N815 (HubSpot's names)
    subscriptionType: Id  # noqa: N815
    objectId: int | Id  # noqa: N815
    occurredAt: int = Field(ge=0, le=_MAX_EPOCH_MS)  # noqa: N815 (milliseconds)
    propertyName: Id | None = None  # noqa: N815
    propertyValue: Any = None  # noqa: N815


_HUBSPOT_BATCH = TypeAdapter(Annotated[list[_HubSpotEvent], Field(max_length=MAX_CHANGES)])


class _SalesforceDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deliveryId: Key  # noqa: N815
    records: list[dict[str, Any]] = Field(max_length=MAX_CHANGES)


class _StandardPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Id
    timestamp: datetime | None = None
    data: dict[str, Any] | list[dict[str, Any]]


def read_delivery(
    source: WebhookSource, method: str, uri: str, body: bytes, headers: Mapping[str, str], *, now: float
) -> WebhookDelivery:
    """Verify and read one delivery: ``SignatureError`` if it is not signed by the source's secret,
    ``PayloadError`` (naming each problem) if its records cannot all be applied."""
    config = source.config
    if config.adapter == "hubspot":
        verify_hubspot(
            source.secret,
            method,
            config.public_url or uri,
            body,
            headers,
            now=now,
            tolerance=config.tolerance_seconds,
        )
        delivery_id, records = _hubspot(_json(body))
    elif config.adapter == "salesforce":
        verify_salesforce(source.secret, body, headers, now=now, tolerance=config.tolerance_seconds)
        delivery_id, records = _salesforce(_json(body), config.id_property or "Id")
    else:
        delivery_id = verify_standard(source.secret, body, headers).strip()
        if not 0 < len(delivery_id) <= MAX_KEY:
            problem = FieldError(
                field="header.webhook-id", message=f"1 to {MAX_KEY} characters", code="invalid"
            )
            raise PayloadError([problem])
        records = _standard(_json(body), config.id_property or "id")
    return map_delivery(source.name, config, delivery_id, records)


def _json(body: bytes) -> Any:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise PayloadError(
            [FieldError(field="body", message="not valid JSON", code="json_invalid")]
        ) from None
    if errors := nul_errors(body, ("body",)):  # PostgreSQL cannot store a NUL
        raise PayloadError(errors)
    return payload


def _validated(adapter: TypeAdapter[Any] | type[BaseModel], payload: Any) -> Any:
    try:
        if isinstance(adapter, TypeAdapter):
            return adapter.validate_python(payload)
        return adapter.model_validate(payload)
    except ValidationError as error:
        errors = field_errors(error.errors(include_url=False, include_input=False))
        for problem in errors:
            problem.field = f"body.{problem.field}" if problem.field != "body" else "body"
        raise PayloadError(errors) from None


def _hubspot(payload: Any) -> tuple[str, list[RawRecord]]:
    events: list[_HubSpotEvent] = _validated(_HUBSPOT_BATCH, payload)
    records = []
    for index, event in sorted(enumerate(events), key=lambda pair: pair[1].occurredAt):
        where = f"body.{index}"
        if event.subscriptionType == "contact.creation":
            properties: dict[str, Any] = {}
        elif event.subscriptionType == "contact.propertyChange":
            if event.propertyName is None:
                raise PayloadError(
                    [FieldError(field=f"{where}.propertyName", message="missing", code="missing")]
                )
            properties = {event.propertyName: event.propertyValue}
        else:
            continue  # deletions, merges, associations, other objects: not lead data
        occurred = datetime.fromtimestamp(event.occurredAt / 1000, UTC)
        records.append(RawRecord(where, "objectId", event.objectId, str(event.eventId), occurred, properties))
    ids = ",".join(sorted(str(event.eventId) for event in events))
    return "events-" + hashlib.sha256(ids.encode()).hexdigest()[:40], records


def _salesforce(payload: Any, id_property: str) -> tuple[str, list[RawRecord]]:
    delivery: _SalesforceDelivery = _validated(_SalesforceDelivery, payload)
    records = []
    for index, record in enumerate(delivery.records):
        where = f"body.records.{index}"
        properties = {k: v for k, v in record.items() if k not in {"attributes", id_property}}
        record_id = record.get(id_property)
        stamp = record.get("LastModifiedDate") or record.get("SystemModstamp")
        occurred = _datetime(stamp)
        event_id = f"{record_id}@{stamp}" if occurred is not None and isinstance(record_id, str) else None
        records.append(
            RawRecord(
                where, id_property, record_id, event_id[:128] if event_id else None, occurred, properties
            )
        )
    return delivery.deliveryId, records


def _standard(payload: Any, id_property: str) -> list[RawRecord]:
    message: _StandardPayload = _validated(_StandardPayload, payload)
    items = message.data if isinstance(message.data, list) else [message.data]
    where = "body.data" if isinstance(message.data, dict) else None
    occurred = message.timestamp if message.timestamp and message.timestamp.tzinfo else None
    return [
        RawRecord(
            where or f"body.data.{index}",
            id_property,
            item.get(id_property),
            None,
            occurred,
            {k: v for k, v in item.items() if k != id_property},
        )
        for index, item in enumerate(items)
    ]


def _datetime(value: Any) -> datetime | None:
    """A timestamp in Salesforce's format (2026-11-28T10:00:00.000+0000); ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
