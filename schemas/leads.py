"""HTTP request and response bodies for leads, activities and feedback."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from schemas.times import Time
from schemas.vocabulary import ActivityType, AssertedStage, FeedbackOutcome, Stage

# The WHATWG HTML "valid e-mail address" syntax: what browsers accept in <input type=email>.
# A full RFC 5322 parser costs ~4x the rest of the model's validation and accepts addresses no CRM holds.
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$"
)


def normalise_email(value: str) -> str:
    """Trim and lower-case an e-mail address; reject anything that is not one."""
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError("not a valid e-mail address")
    return email


Email = Annotated[str, AfterValidator(normalise_email)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
AttributeValue = str | int | float | bool | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=2000)


class LeadProfile(_Body):
    """A lead's profile fields, each optional: what one CRM change may carry (see webhooks)."""

    email: Email | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: ShortText | None = None
    company: ShortText | None = None
    website: ShortText | None = None
    title: ShortText | None = None
    seniority: ShortText | None = None
    department: ShortText | None = None
    industry: ShortText | None = None
    country: CountryCode | None = None
    region: ShortText | None = None
    city: ShortText | None = None
    employees: int | None = Field(default=None, ge=0, le=10_000_000)
    annual_revenue: float | None = Field(default=None, ge=0)
    intent_score: int | None = Field(default=None, ge=0, le=100, description="Third-party intent, 0-100")
    lead_source: ShortText | None = None
    utm_source: ShortText | None = None
    utm_medium: ShortText | None = None
    utm_campaign: ShortText | None = None
    product_interest: list[Tag] = Field(default_factory=list, max_length=50)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    consent_marketing: bool | None = None
    stage: AssertedStage | None = Field(
        default=None, description="Stage the source asserts; the lead's stage is at least this"
    )
    attributes: dict[Key, AttributeValue] = Field(default_factory=dict, max_length=100)


class LeadIn(LeadProfile):
    """A lead created or updated by a CRM or form: unique per (source, external_id)."""

    source: Key = Field(description="System the lead comes from, e.g. hubspot, salesforce, webform")
    external_id: Key = Field(description="The lead's id in the source system")
    event_id: Key | None = Field(
        default=None, description="Id of this event at the source; replays with the same id change nothing"
    )
    occurred_at: Time | None = None
    email: Email


class ActivityIn(_Body):
    """An engagement activity of a lead (page view, webinar, demo request ...)."""

    type: ActivityType
    event_id: Key | None = None
    occurred_at: Time | None = None
    url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    attributes: dict[Key, AttributeValue] = Field(default_factory=dict, max_length=100)


class FeedbackIn(_Body):
    """Sales feedback on a handed-off lead."""

    outcome: FeedbackOutcome
    event_id: Key | None = None
    occurred_at: Time | None = None
    rep_id: Key | None = None
    reason: ShortText | None = Field(
        default=None,
        description="Required when outcome is 'rejected': one of the agreement's rejection reasons",
    )
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _rejection_has_reason(self) -> FeedbackIn:
        if self.outcome == "rejected" and not self.reason:
            raise ValueError("reason is required when outcome is 'rejected'")
        return self


class Accepted(BaseModel):
    """What an ingest endpoint answers once the event is durably committed."""

    lead_id: uuid.UUID
    event_key: str
    outcome: str = Field(description="created, updated, recorded or duplicate")
    stage: Stage
    queue: str | None
    owner: str | None
    agreement_version: str


class FiredRule(BaseModel):
    """A rule that contributed to a decision (kinds: fit, engagement, disqualifier, stage, source, route,
    assign), or a rep the assignment skipped (``skipped.<rep>``, with the reason in ``detail``)."""

    rule: str
    kind: str
    points: int
    detail: str | None = None


class ClockOut(BaseModel):
    """A follow-up deadline of the agreement."""

    id: uuid.UUID = Field(description="The clock id that sla.* events carry as clock_id")
    obligation: str
    state: str = Field(description="open, paused, met, breached or cancelled")
    queue: str | None
    rep_id: str | None
    started_at: datetime
    warn_at: datetime | None = Field(description="When sla.warning is due (none: no warning)")
    due_at: datetime
    calendar: str | None = Field(description="The working calendar it counts on (none: wall-clock time)")
    closed_at: datetime | None
    paused_at: datetime | None = Field(description="State paused: since when (feedback 'paused')")
    paused_seconds: float = Field(
        description="Time its pauses lasted, on its calendar: not counted against it"
    )
    attempts_made: int = Field(description="Attempts clocks: contact attempts (touches) so far")
    attempts_required: int | None = Field(description="Attempts clocks: the attempts due within the window")
    fulfilled_at: datetime | None = Field(
        description="When the obligation was fulfilled: met, or a late first touch of a breached clock"
    )


class TimelineEntry(BaseModel):
    """One inbound event in a lead's history."""

    kind: str
    event_key: str
    received_at: datetime
    payload: dict[str, Any]


class LeadOut(BaseModel):
    """A lead's current state, its latest decision's explanation and its timeline."""

    id: uuid.UUID
    source: str
    external_id: str
    email: str
    company: str | None
    stage: Stage
    fit_score: int
    engagement_score: int
    queue: str | None
    owner: str | None
    agreement_version: str | None
    recycled_count: int = Field(description="How often sales rejected the lead back to marketing")
    created_at: datetime
    updated_at: datetime
    explanation: list[FiredRule]
    clocks: list[ClockOut]
    timeline: list[TimelineEntry]
