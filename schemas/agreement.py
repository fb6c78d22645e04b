"""The agreement document's file format (YAML), validated with pydantic.

The document is the whole marketing/sales service-level agreement: who the parties are and how long
it runs, the ideal customer profile, scoring, stage definitions, goals, the obligations of both
sides, what happens on a breach, termination and special cases, queues, calendars, and test cases.
Conditions are expressions in the rules language (``router.rules``); ``router.agreement`` checks
and compiles them. This module checks the document's shape and its internal references.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.vocabulary import ACTIVITY_TYPES, ActivityType, AssertedStage, Stage

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Expression = Annotated[str, Field(min_length=1, max_length=4000)]
Text = Annotated[str, Field(max_length=2000)]
Share = Annotated[float, Field(ge=0, le=1)]
Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _positive(value: timedelta, name: str) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"{name} must be positive")
    return value


# --- overview ---------------------------------------------------------------------------------------


class Person(_Strict):
    """Someone accountable or reachable for one side of the agreement."""

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    role: str | None = Field(default=None, max_length=200)


class Party(_Strict):
    """One side of the agreement: the team, its accountable owner and its day-to-day contact."""

    team: str = Field(min_length=1, max_length=200)
    owner: Person
    contact: Person | None = None


class Parties(_Strict):
    """Marketing delivers leads; sales follows them up."""

    marketing: Party
    sales: Party


class Review(_Strict):
    """How often both sides review the agreement (e.g. every 3 or 6 months) and who leads it."""

    every_months: int = Field(ge=1, le=24)
    owner: str | None = Field(default=None, max_length=200)


# --- ideal customer profile, scoring, stages --------------------------------------------------------


class Persona(_Strict):
    """A named buyer profile; rules use it as ``persona.<id>``."""

    id: RuleId
    description: Text = ""
    when: Expression


class FitRule(_Strict):
    """Points for how well a lead fits the ideal customer profile."""

    id: RuleId
    description: Text = ""
    when: Expression
    points: int = Field(ge=-1000, le=1000)


class EngagementRule(_Strict):
    """Points per activity of one type (decayed with age), optionally capped."""

    id: RuleId
    description: Text = ""
    activity: ActivityType
    points: int = Field(ge=-1000, le=1000)
    max_points: int | None = Field(default=None, ge=0, le=100_000)


class Engagement(_Strict):
    """Engagement scoring: each activity's weight halves every ``half_life_days`` (none = no decay)."""

    half_life_days: float | None = Field(default=None, gt=0, le=3650)
    cap: int | None = Field(default=None, ge=0, le=100_000)
    rules: list[EngagementRule] = Field(default_factory=list)


class Disqualifier(_Strict):
    """A condition that disqualifies a lead that has not reached MQL yet."""

    id: RuleId
    description: Text = ""
    when: Expression


class Scoring(_Strict):
    """Fit and engagement scoring rules plus disqualifiers."""

    fit: list[FitRule] = Field(default_factory=list)
    fit_cap: int | None = Field(default=None, ge=0, le=100_000)
    engagement: Engagement = Field(default_factory=Engagement)
    disqualifiers: list[Disqualifier] = Field(default_factory=list)


class StageDefinitions(_Strict):
    """Conditions over fields and scores that define each stage (``engaged`` is optional)."""

    engaged: Expression = "engagement_score > 0"
    mql: Expression
    sql: Expression


# --- goals ------------------------------------------------------------------------------------------


class SegmentGoal(_Strict):
    """MQLs marketing delivers for one segment of the market."""

    segment: RuleId
    when: Expression
    mqls: int = Field(ge=0)


class DataCompleteness(_Strict):
    """Share of handed-off leads that must have every listed field filled in."""

    fields: list[str] = Field(min_length=1)
    target: Share


class MarketingGoals(_Strict):
    """What marketing delivers per period."""

    mqls: int = Field(ge=0)
    by_segment: list[SegmentGoal] = Field(default_factory=list)
    data_completeness: DataCompleteness | None = None


class SalesGoals(_Strict):
    """What sales achieves with the leads it gets."""

    acceptance_rate: Share | None = None
    mql_to_sql_rate: Share | None = None


class Goals(_Strict):
    """Both sides' goals and the period they are measured on."""

    period: Literal["week", "month", "quarter"] = "month"
    marketing: MarketingGoals
    sales: SalesGoals = Field(default_factory=SalesGoals)


# --- obligations, escalation, termination -----------------------------------------------------------


DEFAULT_REJECTION_REASONS = (
    "not_a_fit", "no_budget", "no_authority", "no_need", "bad_timing", "wrong_contact", "duplicate",
    "competitor", "other",
)  # fmt: skip


class Handoff(_Strict):
    """When marketing hands a lead to sales, what it must carry, and where it goes if no queue fits."""

    stage: Literal["mql", "sql"] = "mql"
    fallback_queue: RuleId
    required_fields: list[str] = Field(default_factory=list)
    rejection_reasons: list[RuleId] = Field(
        default_factory=lambda: list(DEFAULT_REJECTION_REASONS),
        min_length=1,
        description="The reason codes sales may give when rejecting a lead (it is recycled to marketing)",
    )

    @model_validator(mode="after")
    def _reasons_unique(self) -> Handoff:
        _unique("rejection reason", self.rejection_reasons)
        return self


_TARGET = "Share of its clocks to be met for the obligation to count as kept in the review scorecard"


class Deadline(_Strict):
    """A follow-up deadline (ISO 8601 duration, e.g. PT4H, or seconds), on a calendar or wall-clock time."""

    within: timedelta
    calendar: RuleId | None = None  # none: wall-clock time
    warn_at: float | None = Field(
        default=0.75, gt=0, lt=1, description="Share of the time after which sla.warning is sent; null: none"
    )
    target: Share = Field(default=0.95, description=_TARGET)

    @model_validator(mode="after")
    def _positive_within(self) -> Deadline:
        _positive(self.within, "within")
        return self


class Attempts(_Strict):
    """Sales makes ``count`` contact attempts within the window after handoff."""

    count: int = Field(ge=1, le=50)
    within: timedelta
    calendar: RuleId | None = None
    warn_at: float | None = Field(
        default=0.75, gt=0, lt=1, description="Share of the time after which sla.warning is sent; null: none"
    )
    target: Share = Field(default=0.95, description=_TARGET)

    @model_validator(mode="after")
    def _positive_within(self) -> Attempts:
        _positive(self.within, "within")
        return self


class MarketingObligations(_Strict):
    """What marketing owes sales: volume per period and fields every handed-off lead has."""

    mqls_per_period: int | None = Field(default=None, ge=0)
    required_fields: list[str] = Field(default_factory=list)


class Obligations(_Strict):
    """The lead-management protocol: sales' follow-up obligations and marketing's own."""

    first_touch: Deadline
    attempts: Attempts | None = None
    decision: Deadline | None = None  # accept or reject within
    marketing: MarketingObligations = Field(default_factory=MarketingObligations)


class EscalationAction(_Strict):
    """One thing to do on a breach; exactly one of the fields is set."""

    reassign: Literal["next_rep"] | None = None
    notify: str | None = Field(default=None, max_length=200)  # a role, e.g. sales_manager
    move_to_queue: RuleId | None = None
    mark_rep_unavailable: bool | None = None
    remediation: str | None = Field(default=None, max_length=500)  # e.g. a service credit

    @model_validator(mode="after")
    def _exactly_one(self) -> EscalationAction:
        chosen = [name for name, value in self.model_dump().items() if value is not None]
        if len(chosen) != 1:
            raise ValueError("an escalation action sets exactly one of: " + ", ".join(self.model_fields))
        return self


class Escalation(_Strict):
    """What happens on a breach of one obligation; ``after`` counts breaches of the same lead."""

    obligation: Literal["first_touch", "attempts", "decision"]
    after: int = Field(default=1, ge=1, le=10)
    actions: list[EscalationAction] = Field(min_length=1)


class Termination(_Strict):
    """How the agreement ends and what happens to leads still in flight."""

    notice_days: int = Field(default=30, ge=0, le=365)
    conditions: list[Text] = Field(default_factory=list)
    in_flight: Literal["keep_obligations", "return_to_marketing", "move_to_fallback"] = "keep_obligations"


class Renewal(_Strict):
    """Whether the agreement renews itself at ``valid_to``, and for how long."""

    automatic: bool = False
    months: int | None = Field(default=None, ge=1, le=60)


class SpecialCase(_Strict):
    """A documented exception (e.g. existing customers, partner leads) and where such leads go."""

    id: RuleId
    description: Text = ""
    when: Expression
    queue: RuleId | None = None


# --- queues, calendars, tests -----------------------------------------------------------------------


class Rep(_Strict):
    """A sales rep, member of a queue: share of the queue, capacity, working hours.

    Capacity and availability belong to the person: a rep in several queues has one count of open
    leads and of new leads per day across them.
    """

    id: RuleId
    name: str = Field(min_length=1, max_length=200)
    weight: int = Field(default=1, ge=1, le=100, description="Share in weighted round robin")
    max_open_leads: int | None = Field(default=None, ge=1, description="Assigned and not yet closed")
    max_new_per_day: int | None = Field(default=None, ge=1, description="Per day in the rep's time zone")
    calendar: RuleId | None = Field(default=None, description="Working hours; none = always")
    active: bool = True


Strategy = Literal["round_robin", "weighted_round_robin", "least_loaded"]


class Queue(_Strict):
    """A sales queue: the leads it takes (``when``; none = any), its reps and how it picks one."""

    id: RuleId
    description: Text = ""
    when: Expression | None = None
    strategy: Strategy = "round_robin"
    sticky_accounts: bool = Field(
        default=False,
        description="A lead whose account has an owner in this queue goes to that owner (if eligible)",
    )
    reps: list[Rep] = Field(min_length=1)

    @model_validator(mode="after")
    def _reps_unique(self) -> Queue:
        _unique(f"queue {self.id}: rep", [rep.id for rep in self.reps])
        return self


class Calendar(_Strict):
    """Working hours per weekday (several intervals allowed), holidays and closures, in a time zone."""

    id: RuleId
    timezone: str = Field(min_length=1, max_length=64)
    hours: dict[Weekday, list[tuple[Clock, Clock]]]
    holidays_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    holidays_subdivision: str | None = Field(default=None, max_length=10)
    closures: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _zone_and_holidays_known(self) -> Calendar:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone: '{self.timezone}' is not an IANA time zone (e.g. Europe/Berlin)"
            ) from None
        if self.holidays_country is not None:
            subdivisions = holidays.list_supported_countries().get(self.holidays_country)
            if subdivisions is None:
                raise ValueError(f"holidays_country: no public holidays known for '{self.holidays_country}'")
            if self.holidays_subdivision is not None and self.holidays_subdivision not in subdivisions:
                raise ValueError(
                    f"holidays_subdivision: '{self.holidays_subdivision}' is not a subdivision of "
                    f"{self.holidays_country} ({', '.join(subdivisions[:12])} ...)"
                )
        return self

    @model_validator(mode="after")
    def _intervals_ordered(self) -> Calendar:
        for day, intervals in self.hours.items():
            for start, end in intervals:
                if start >= end:
                    raise ValueError(f"{day}: interval {start}-{end} ends before it starts")
            ordered = sorted(intervals)
            for (_, end), (start, next_end) in itertools.pairwise(ordered):
                if start < end:
                    raise ValueError(f"{day}: intervals ...-{end} and {start}-{next_end} overlap")
        if not any(self.hours.values()):
            raise ValueError("hours: a calendar needs working hours on at least one weekday")
        return self


class Expectation(_Strict):
    """What a test case's lead must come out as."""

    stage: Stage
    fit_score: int | None = None
    engagement_score: int | None = None
    queue: RuleId | None = None


class TestCase(_Strict):
    """An example lead (profile fields, activity counts) and the decision the agreement must make."""

    id: RuleId
    description: Text = ""
    lead: dict[str, Any]
    activities: dict[ActivityType, int] = Field(default_factory=dict)
    stage: AssertedStage | None = None  # asserted by the source
    expect: Expectation


# --- the document -----------------------------------------------------------------------------------


class AgreementDocument(_Strict):
    """A versioned marketing/sales agreement, as written in YAML."""

    id: RuleId
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=300)
    status: Literal["draft", "active", "retired"] = "draft"
    valid_from: date | None = None
    valid_to: date | None = None
    review: Review | None = None
    parties: Parties | None = None
    measurement: Text = ""
    personas: list[Persona] = Field(default_factory=list)
    scoring: Scoring
    stages: StageDefinitions
    goals: Goals | None = None
    handoff: Handoff
    obligations: Obligations
    escalations: list[Escalation] = Field(default_factory=list)
    termination: Termination = Field(default_factory=Termination)
    renewal: Renewal = Field(default_factory=Renewal)
    special_cases: list[SpecialCase] = Field(default_factory=list)
    calendars: list[Calendar] = Field(default_factory=list)
    queues: list[Queue] = Field(min_length=1)
    tests: list[TestCase] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> AgreementDocument:
        _unique("queue", [q.id for q in self.queues])
        _unique("persona", [p.id for p in self.personas])
        _unique("calendar", [c.id for c in self.calendars])
        _unique("test case", [t.id for t in self.tests])
        scoring = self.scoring
        _unique(
            "rule",
            [r.id for r in scoring.fit] + [r.id for r in scoring.engagement.rules]
            + [r.id for r in scoring.disqualifiers],
        )  # fmt: skip
        queue_ids = {q.id for q in self.queues}
        wanted = [("handoff.fallback_queue", self.handoff.fallback_queue)]
        wanted += [(f"special case {c.id}", c.queue) for c in self.special_cases if c.queue]
        wanted += [
            (f"escalation on {e.obligation}", a.move_to_queue)
            for e in self.escalations for a in e.actions if a.move_to_queue
        ]  # fmt: skip
        for where, queue in wanted:
            if queue not in queue_ids:
                raise ValueError(f"{where}: '{queue}' is not a queue id")
        calendar_ids = {c.id for c in self.calendars}
        deadlines = [("first_touch", self.obligations.first_touch), ("attempts", self.obligations.attempts),
                     ("decision", self.obligations.decision)]  # fmt: skip
        for name, deadline in deadlines:
            if (
                deadline is not None
                and deadline.calendar is not None
                and deadline.calendar not in calendar_ids
            ):
                raise ValueError(f"obligations.{name}.calendar: '{deadline.calendar}' is not a calendar id")
        defined = {name for name, deadline in deadlines if deadline is not None}
        for escalation in self.escalations:
            if escalation.obligation not in defined:
                raise ValueError(
                    f"escalation on {escalation.obligation}: obligations.{escalation.obligation} is not set"
                )
        for each in self.queues:
            for rep in each.reps:
                if rep.calendar is not None and rep.calendar not in calendar_ids:
                    raise ValueError(f"queue {each.id}, rep {rep.id}: '{rep.calendar}' is not a calendar id")
        _same_rep_everywhere(self.queues)
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError("valid_from is after valid_to")
        return self

    @property
    def version_label(self) -> str:
        """``id@version``: what a decision records as the agreement that made it."""
        return f"{self.id}@{self.version}"


def _same_rep_everywhere(queues: list[Queue]) -> None:
    """A rep in several queues is one person: name, capacity, calendar and active flag must agree."""
    seen: dict[str, tuple[str, Rep]] = {}
    for queue in queues:
        for rep in queue.reps:
            person = rep.model_copy(update={"weight": 1})
            if rep.id in seen and seen[rep.id][1] != person:
                raise ValueError(
                    f"rep {rep.id} is described differently in queues {seen[rep.id][0]} and {queue.id} "
                    "(only the weight may differ per queue)"
                )
            seen.setdefault(rep.id, (queue.id, person))


def _unique(kind: str, ids: list[str]) -> None:
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{kind} ids must be unique, repeated: {', '.join(duplicates)}")


__all__ = [
    "ACTIVITY_TYPES",
    "AgreementDocument",
    "Calendar",
    "Disqualifier",
    "EngagementRule",
    "Escalation",
    "FitRule",
    "Persona",
    "Queue",
    "Rep",
    "Stage",
    "Strategy",
    "TestCase",
]
