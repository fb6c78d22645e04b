"""CRM webhook deliveries, as adapters normalise them, and the answer to one."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from schemas.leads import Key, LeadProfile
from schemas.times import Time
from schemas.vocabulary import Stage

MAX_CHANGES = 1000


class ContactChange(BaseModel):
    """One CRM record's changed fields, already mapped to lead fields."""

    model_config = ConfigDict(extra="forbid")

    external_id: Key = Field(description="The record's id in the CRM")
    event_id: Key | None = Field(default=None, description="The CRM's id of this change, if it has one")
    occurred_at: Time | None = None
    fields: LeadProfile


class WebhookDelivery(BaseModel):
    """A verified delivery from one source: its changes are applied in one transaction, or none is."""

    model_config = ConfigDict(extra="forbid")

    source: Key
    delivery_id: Key = Field(description="The delivery's id (a redelivery has the same one)")
    changes: list[ContactChange] = Field(max_length=MAX_CHANGES)


class ContactOutcome(BaseModel):
    """What one change did: ``created`` or ``updated`` a lead, ``duplicate`` (applied before), or
    ``pending`` (a record with no e-mail yet: its fields are kept until the e-mail arrives)."""

    external_id: str
    outcome: str
    lead_id: uuid.UUID | None
    stage: Stage | None
    queue: str | None
    owner: str | None


class WebhookAccepted(BaseModel):
    """The answer to a delivery once all its changes are committed."""

    source: str
    delivery_id: str
    event_key: str
    agreement_version: str
    contacts: list[ContactOutcome]
