"""What-if replay: a candidate agreement against what actually happened over a window."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class Volume(BaseModel):
    """A count as it happened, and as the candidate would have made it."""

    actual: int
    candidate: int


class SegmentVolume(Volume):
    """MQLs of one of the candidate's goal segments."""

    segment: str


class QueueVolume(Volume):
    """Handoffs to one queue."""

    queue: str


class RepLoad(BaseModel):
    """A rep's projected new leads under the candidate (its queue's handoffs by the reps' weights)."""

    queue: str
    rep_id: str
    projected: float
    capacity: int | None = Field(description="max_new_per_day x days in the window; null: no limit")
    over_capacity: bool


class ChangedLead(BaseModel):
    """A lead whose stage or queue at the window's end would differ."""

    lead_id: uuid.UUID
    actual_stage: str
    candidate_stage: str
    actual_queue: str | None
    candidate_queue: str | None


class Simulation(BaseModel):
    """The replay of the window's leads under a candidate agreement; nothing is written or published."""

    candidate_version: str
    from_: datetime = Field(alias="from")
    to: datetime
    leads_replayed: int = Field(description="Leads with an event in the window (whole history replayed)")
    events_replayed: int
    mqls: Volume
    sqls: Volume
    mqls_by_segment: list[SegmentVolume]
    handoffs_by_queue: list[QueueVolume]
    rep_load: list[RepLoad]
    stage_changed: int = Field(description="Leads whose stage at the window's end would differ")
    queue_changed: int = Field(description="Leads whose queue at the window's end would differ")
    examples: list[ChangedLead] = Field(description="Up to 20 of the changed leads")

    model_config = {"populate_by_name": True}
