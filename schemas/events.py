"""Events leadrouter publishes: CloudEvents 1.0 (structured JSON mode) and their data payloads.

Every event has a stable ``id`` (the same on every redelivery) so consumers can deduplicate.
Events of one lead share the Kafka key (the lead id) and therefore stay in order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EVENT_SOURCE = "/leadrouter"
TYPE_PREFIX = "com.leadrouter."

LEAD_STAGE_CHANGED = TYPE_PREFIX + "lead.stage_changed"
LEAD_HANDED_OFF = TYPE_PREFIX + "lead.handed_off"
LEAD_UNASSIGNED = TYPE_PREFIX + "lead.unassigned"
LEAD_RECYCLED = TYPE_PREFIX + "lead.recycled"
SLA_WARNING = TYPE_PREFIX + "sla.warning"
SLA_BREACHED = TYPE_PREFIX + "sla.breached"
SLA_MET = TYPE_PREFIX + "sla.met"
SLA_ESCALATED = TYPE_PREFIX + "sla.escalated"
SLA_PAUSED = TYPE_PREFIX + "sla.paused"
SLA_RESUMED = TYPE_PREFIX + "sla.resumed"
AGREEMENT_ACTIVATED = TYPE_PREFIX + "agreement.activated"
AGREEMENT_REVIEW_DUE = TYPE_PREFIX + "agreement.review_due"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = EVENT_SOURCE
    type: str
    subject: str = Field(description="The lead id (the agreement id for agreement.* events)")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, object]


class StageChanged(BaseModel):
    """``lead.stage_changed``: a lead moved from one stage to another."""

    lead_id: str
    from_stage: str
    to_stage: str
    fit_score: int
    engagement_score: int
    agreement_version: str


class HandedOff(BaseModel):
    """``lead.handed_off``: marketing handed a qualified lead to a sales queue and rep."""

    lead_id: str
    source: str
    external_id: str
    email: str
    company: str | None
    stage: str
    queue: str
    rep_id: str
    fit_score: int
    engagement_score: int
    agreement_version: str
    first_touch_due_at: datetime


class SkippedRep(BaseModel):
    """A rep the assignment passed over, and why (out of office, at capacity ...)."""

    rep_id: str
    reason: str


class Unassigned(BaseModel):
    """``lead.unassigned``: routed to a queue where nobody can take it now; it waits there."""

    lead_id: str
    queue: str
    strategy: str
    skipped: list[SkippedRep]
    agreement_version: str


class Recycled(BaseModel):
    """``lead.recycled``: sales rejected a lead (with a reason code); it is back with marketing."""

    lead_id: str
    reason: str
    note: str | None
    rep_id: str | None
    queue: str | None
    from_stage: str
    recycled_count: int = Field(description="Rejections of this lead so far, this one included")
    agreement_version: str


class SlaClockEvent(BaseModel):
    """``sla.warning`` / ``sla.breached`` / ``sla.met`` / ``sla.paused`` / ``sla.resumed``: a follow-up
    obligation is close to its due time, was missed, was fulfilled, stopped counting (feedback
    ``paused``, e.g. the lead waits on the prospect) or counts again (``due_at`` then is the new due
    time: the time the clock had left when paused, from now on its calendar)."""

    lead_id: str
    clock_id: str
    obligation: str
    queue: str | None
    rep_id: str | None
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None = Field(description="When the warning was due (none: the clock does not warn)")
    calendar: str | None = Field(
        description="The working calendar the clock counts on (none: wall-clock time)"
    )
    time_used_seconds: float = Field(
        description="Time counted against the clock from its start to `at`: working time on its calendar,"
        " less the time it was paused"
    )
    paused_seconds: float = Field(
        default=0.0, description="Time (on its calendar) the clock was paused before `at`: not counted"
    )
    attempts_made: int | None = Field(default=None, description="attempts clocks: contact attempts so far")
    attempts_required: int | None = Field(
        default=None, description="attempts clocks: the attempts the agreement asks for within the window"
    )
    at: datetime


class EscalationOutcome(BaseModel):
    """One action an escalation took (``skipped`` says why it could not, if it could not)."""

    action: Literal["reassign", "move_to_queue", "mark_rep_unavailable", "notify", "remediation"]
    role: str | None = Field(default=None, description="notify: the role to tell, e.g. sales_manager")
    text: str | None = Field(default=None, description="remediation: what the agreement prescribes")
    queue: str | None = Field(default=None, description="reassign / move_to_queue: the lead's queue now")
    from_rep_id: str | None = Field(default=None, description="reassign / move_to_queue: the previous owner")
    rep_id: str | None = Field(
        default=None, description="the new owner (reassign, move), or the rep marked unavailable"
    )
    skipped: str | None = Field(default=None, description="why the action did nothing")


class SlaEscalated(BaseModel):
    """``sla.escalated``: a breach triggered the agreement's escalation step for the lead's n-th breach of
    the obligation; ``actions`` is what was done (notify a role, reassign, move, mark a rep unavailable)."""

    lead_id: str
    clock_id: str = Field(description="The breached clock")
    obligation: str
    breaches: int = Field(description="Breaches of this obligation on this lead so far, this one included")
    queue: str | None
    rep_id: str | None = Field(description="The rep who had the lead when the clock breached")
    due_at: datetime
    actions: list[EscalationOutcome]
    agreement_version: str
    at: datetime


class AgreementActivated(BaseModel):
    """``agreement.activated``: a version became the active one; decisions from now on use it."""

    agreement_id: str
    version: int
    agreement_version: str = Field(description="'<id>@<version>', as recorded on decisions")
    previous_version: int | None
    activated_at: datetime


class AgreementReviewDue(BaseModel):
    """``agreement.review_due``: the agreement asks for its review (on its cadence, or before it expires,
    its termination notice ahead); once per review, from any replica."""

    agreement_id: str
    version: int
    agreement_version: str
    kind: Literal["periodic", "expiry"]
    due_on: date
    review_owner: str | None
    valid_to: date | None
    period_from: date = Field(
        description="The period under review: since the previous review (or valid_from)"
    )
    scorecard: str = Field(description="The API path of the period's scorecard")


class EventFeedPage(BaseModel):
    """A page of ``GET /v1/events``: events after a cursor, in publication order."""

    events: list[CloudEvent]
    next_cursor: int = Field(description="Pass as ?after= to read the next page")
