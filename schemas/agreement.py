"""The agreement document's file format (YAML), validated with pydantic.

The document is the marketing/sales service-level agreement: scoring rules, stage definitions,
queues with their reps, and the follow-up obligations of sales. ``router.agreement`` compiles a
validated document into fast, explainable decisions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.vocabulary import ACTIVITY_TYPES, ActivityType, Stage

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Scalar = str | int | float | bool | None

Operator = Literal[
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "starts_with", "ends_with", "exists"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(_Strict):
    """``field op value``: the leaf of a condition."""

    field: str = Field(min_length=1, max_length=128)
    op: Operator
    value: Scalar | list[Scalar] = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Comparison:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"operator '{self.op}' needs a list value")
        if self.op in ("gt", "gte", "lt", "lte") and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"operator '{self.op}' needs a number value")
        if self.op in ("starts_with", "ends_with") and not isinstance(self.value, str):
            raise ValueError(f"operator '{self.op}' needs a string value")
        if self.op == "exists" and not isinstance(self.value, bool):
            raise ValueError("operator 'exists' needs true or false")
        return self


class AllOf(_Strict):
    """True when every sub-condition is true."""

    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    """True when at least one sub-condition is true."""

    any: list[Condition] = Field(min_length=1)


class NotOf(_Strict):
    """Negates a condition."""

    not_: Condition = Field(alias="not")


Condition = Comparison | AllOf | AnyOf | NotOf


class FitRule(_Strict):
    """Points for how well a lead fits the ideal customer profile."""

    id: RuleId
    description: str = ""
    when: Condition
    points: int = Field(ge=-1000, le=1000)


class EngagementRule(_Strict):
    """Points per activity of one type, optionally capped."""

    id: RuleId
    description: str = ""
    activity: ActivityType
    points: int = Field(ge=-1000, le=1000)
    max_points: int | None = Field(default=None, ge=0, le=100_000)


class Disqualifier(_Strict):
    """A condition that disqualifies a lead that has not reached MQL yet."""

    id: RuleId
    description: str = ""
    when: Condition


class Scoring(_Strict):
    """Fit and engagement scoring rules plus disqualifiers."""

    fit: list[FitRule] = Field(default_factory=list)
    engagement: list[EngagementRule] = Field(default_factory=list)
    disqualifiers: list[Disqualifier] = Field(default_factory=list)


class StageDefinitions(_Strict):
    """Conditions (over fields, scores and activity counts) that define MQL and SQL."""

    mql: Condition
    sql: Condition


class Rep(_Strict):
    """A sales rep, member of a queue."""

    id: RuleId
    name: str = Field(min_length=1, max_length=200)


class Queue(_Strict):
    """A sales queue: the leads it takes (``when``; none = any) and its reps, in rotation order."""

    id: RuleId
    description: str = ""
    when: Condition | None = None
    reps: list[Rep] = Field(min_length=1)


class Handoff(_Strict):
    """When marketing hands a lead to sales, and where leads go when no queue matches."""

    stage: Literal["mql", "sql"] = "mql"
    fallback_queue: RuleId


class FirstTouch(_Strict):
    """Sales must touch a handed-off lead within this duration (ISO 8601, e.g. PT4H, or seconds)."""

    within: timedelta

    @model_validator(mode="after")
    def _positive(self) -> FirstTouch:
        if self.within <= timedelta(0):
            raise ValueError("first_touch.within must be positive")
        return self


class Obligations(_Strict):
    """Follow-up obligations of sales on a handed-off lead."""

    first_touch: FirstTouch


class AgreementDocument(_Strict):
    """A versioned marketing/sales agreement, as written in YAML."""

    id: RuleId
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=300)
    scoring: Scoring
    stages: StageDefinitions
    handoff: Handoff
    queues: list[Queue] = Field(min_length=1)
    obligations: Obligations

    @model_validator(mode="after")
    def _references_resolve(self) -> AgreementDocument:
        queue_ids = [q.id for q in self.queues]
        if len(set(queue_ids)) != len(queue_ids):
            raise ValueError("queue ids must be unique")
        if self.handoff.fallback_queue not in queue_ids:
            raise ValueError(f"handoff.fallback_queue '{self.handoff.fallback_queue}' is not a queue id")
        rule_ids = [r.id for r in self.scoring.fit] + [r.id for r in self.scoring.engagement]
        rule_ids += [r.id for r in self.scoring.disqualifiers]
        duplicates = sorted({r for r in rule_ids if rule_ids.count(r) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique, repeated: {', '.join(duplicates)}")
        return self

    @property
    def version_label(self) -> str:
        """``id@version``: what a decision records as the agreement that made it."""
        return f"{self.id}@{self.version}"


__all__ = [
    "ACTIVITY_TYPES",
    "AgreementDocument",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Condition",
    "Disqualifier",
    "EngagementRule",
    "FitRule",
    "NotOf",
    "Queue",
    "Rep",
    "Stage",
]
