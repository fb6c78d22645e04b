"""The SLA report: both sides' KPIs over a window, against the agreement's goals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

GroupBy = Literal["queue", "rep", "source", "segment"]


class GoalFigure(BaseModel):
    """A count goal over the window: target prorated to it, actual, and the pace."""

    target: float = Field(description="The goal for this window (per-period goals prorated to it)")
    actual: float
    attainment: float | None = Field(description="actual / target")
    projected: float = Field(description="The actual at the window's end at the pace so far")
    projected_attainment: float | None
    status: Literal["met", "on_track", "at_risk", "missed"]


class SegmentGoalFigure(GoalFigure):
    """The MQL goal of one segment of ``goals.marketing.by_segment``."""

    segment: str


class RateGoalFigure(BaseModel):
    """A share the agreement asks for (acceptance, conversion, data completeness)."""

    target: float
    actual: float | None
    status: Literal["met", "missed", "no_data"]


class Goals(BaseModel):
    """The agreement's goals over the window (``None``: the agreement sets no such goal)."""

    period: Literal["week", "month", "quarter"]
    mqls: GoalFigure | None
    by_segment: list[SegmentGoalFigure]
    data_completeness: RateGoalFigure | None
    acceptance_rate: RateGoalFigure | None
    mql_to_sql_rate: RateGoalFigure | None


class Marketing(BaseModel):
    """What marketing delivered in the window."""

    leads: int = Field(description="Leads created")
    mqls: int = Field(description="Stage changes into MQL or beyond (a recycled lead counts again)")
    sqls: int = Field(description="Stage changes into SQL")
    handed_off: int = Field(description="Handoffs to a queue (first-touch clocks started)")
    data_completeness: float | None = Field(
        description="Share of handed-off leads with every goals.marketing.data_completeness field"
    )
    rejected_by_reason: dict[str, int]
    rejection_rate: float | None = Field(description="rejected / (accepted + rejected)")


class Bucket(BaseModel):
    """How many durations fell at or under ``le_seconds`` and over the previous bucket's bound."""

    le_seconds: float | None = Field(description="Upper bound; null: the rest")
    count: int


class Durations(BaseModel):
    """Business seconds (on the clock's calendar, pauses not counted)."""

    count: int
    p50_seconds: float | None
    p90_seconds: float | None
    histogram: list[Bucket] = Field(description="15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 1 day, 2 days, more")


class ObligationFigures(BaseModel):
    """One obligation's clocks closed or warned in the window."""

    met: int
    breached: int
    warned: int
    met_rate: float | None = Field(description="met / (met + breached)")
    attempts_made: int | None = None
    attempts_required: int | None = None


class Sales(BaseModel):
    """How sales followed up in the window."""

    accepted: int
    rejected: int
    acceptance_rate: float | None
    converted: int
    time_to_first_touch: Durations
    obligations: dict[str, ObligationFigures]
    mql_to_sql_rate: float | None = Field(description="Of the window's MQLs, the share that reached SQL")
    sql_to_opportunity_rate: float | None = Field(description="Of the window's SQLs, the share converted")


class Routing(BaseModel):
    """Reassignments and waits in the window."""

    reassignments: int = Field(description="A routed lead given to another rep (by hand or escalation)")
    unassigned: Durations = Field(description="Waits from lead.unassigned to the lead's next handoff")
    still_waiting: int


class GroupFigures(BaseModel):
    """The KPIs of one group (``all`` without grouping)."""

    key: str
    marketing: Marketing
    sales: Sales
    routing: Routing


class RepShare(BaseModel):
    """A rep's handoffs in a queue against the share its weight asks for."""

    queue: str
    rep_id: str
    handoffs: int
    share: float | None
    expected_share: float | None = Field(description="weight / the queue's active reps' weights")


class WeeklyBreaches(BaseModel):
    """Clocks of a queue breached in one ISO week (Monday, UTC) of the window."""

    week: date
    queue: str
    breaches: int


class SlaReport(BaseModel):
    """Both sides' KPIs over [from, to) under the agreement version active when it was made."""

    from_: datetime = Field(alias="from")
    to: datetime
    generated_at: datetime
    agreement_version: str
    group_by: GroupBy | None
    goals: Goals | None
    groups: list[GroupFigures]
    distribution: list[RepShare]
    breaches_by_week: list[WeeklyBreaches]

    model_config = {"populate_by_name": True}


class ScorecardItem(BaseModel):
    """One goal or obligation of the agreement over the window, and what is prescribed if missed."""

    side: Literal["marketing", "sales"]
    item: str = Field(description="mqls, mqls.<segment>, data_completeness, acceptance_rate, ... first_touch")
    target: str = Field(description="The target as the agreement states it")
    target_value: float
    actual_value: float | None
    status: Literal["met", "on_track", "at_risk", "missed", "no_data"]
    remediation: list[str] = Field(
        description="What the agreement prescribes for a miss: its escalations' remediations and notices"
    )


class ReviewSchedule(BaseModel):
    """When the agreement is reviewed, by whom, and until when it runs."""

    every_months: int | None
    owner: str | None
    next_review_on: date | None = Field(description="The next periodic review (none before valid_to)")
    expiry_review_on: date | None = Field(
        description="The review before expiry: termination notice before valid_to"
    )
    valid_to: date | None


class Scorecard(BaseModel):
    """An agreement version's goals and obligations over a window, for the periodic review."""

    agreement_version: str
    from_: datetime = Field(alias="from")
    to: datetime
    generated_at: datetime
    review: ReviewSchedule
    items: list[ScorecardItem]
    missed: int
    at_risk: int
    termination_conditions: list[str]

    model_config = {"populate_by_name": True}
