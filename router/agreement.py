"""Compile an agreement document into an explainable evaluator (pure: no I/O).

``compile_agreement`` validates every field a rule names and returns a ``CompiledAgreement`` whose
``qualify`` scores a lead, classifies its stage and lists the rules that fired, and whose ``route``
picks the sales queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from router.conditions import Predicate, compile_condition
from router.stages import DISQUALIFIED, advance
from schemas.agreement import AgreementDocument
from schemas.vocabulary import ACTIVITY_TYPES

PROFILE_FIELDS: frozenset[str] = frozenset(
    {
        "source", "email_domain", "company", "website", "title", "seniority", "department", "industry",
        "country", "region", "city", "employees", "annual_revenue", "lead_source", "utm_source",
        "utm_medium", "utm_campaign", "product_interest", "tags", "consent_marketing",
    }
)  # fmt: skip
SCORE_FIELDS: frozenset[str] = frozenset({"fit_score", "engagement_score"})
_ACTIVITY_FIELDS = frozenset(f"activity.{a}" for a in ACTIVITY_TYPES)


def is_profile_field(name: str) -> bool:
    """Fields usable in fit rules, disqualifiers and queue rules."""
    return name in PROFILE_FIELDS or name in _ACTIVITY_FIELDS or name.startswith("attributes.")


def is_stage_field(name: str) -> bool:
    """Fields usable in stage definitions: profile fields plus the scores."""
    return name in SCORE_FIELDS or is_profile_field(name)


def lead_facts(profile: Mapping[str, Any], activity_counts: Mapping[str, int]) -> dict[str, Any]:
    """Flatten a lead's stored fields and activity counts into the facts rules are evaluated on."""
    facts = {name: profile.get(name) for name in PROFILE_FIELDS}
    email = profile.get("email")
    if facts["email_domain"] is None and isinstance(email, str) and "@" in email:
        facts["email_domain"] = email.rpartition("@")[2]
    for key, value in (profile.get("attributes") or {}).items():
        facts[f"attributes.{key}"] = value
    for activity in ACTIVITY_TYPES:
        facts[f"activity.{activity}"] = activity_counts.get(activity, 0)
    return facts


@dataclass(frozen=True, slots=True)
class FiredRule:
    """A rule that contributed to a decision, with its points."""

    rule: str
    kind: str  # fit | engagement | disqualifier | stage | source
    points: int = 0


@dataclass(frozen=True, slots=True)
class Qualification:
    """The outcome of evaluating a lead against an agreement."""

    fit_score: int
    engagement_score: int
    stage: str
    fired: tuple[FiredRule, ...]


@dataclass(frozen=True, slots=True)
class RouteChoice:
    """The queue a lead goes to and why."""

    queue: str
    matched_by: str  # the queue's own rule, or "fallback"


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    points: int
    predicate: Predicate


@dataclass(frozen=True, slots=True)
class _EngagementRule:
    id: str
    activity: str
    points: int
    cap: int | None


@dataclass(frozen=True, slots=True)
class _QueueRule:
    id: str
    predicate: Predicate | None
    reps: tuple[str, ...]


class CompiledAgreement:
    """An agreement compiled once into predicates; evaluation is pure and allocation-light."""

    def __init__(self, document: AgreementDocument) -> None:
        self.document = document
        self.version = document.version_label
        scoring = document.scoring
        self._fit = tuple(
            _Rule(r.id, r.points, compile_condition(r.when, is_profile_field)) for r in scoring.fit
        )
        self._engagement = tuple(
            _EngagementRule(r.id, r.activity, r.points, r.max_points) for r in scoring.engagement
        )
        self._disqualifiers = tuple(
            _Rule(r.id, 0, compile_condition(r.when, is_profile_field)) for r in scoring.disqualifiers
        )
        self._mql = compile_condition(document.stages.mql, is_stage_field)
        self._sql = compile_condition(document.stages.sql, is_stage_field)
        self._queues = tuple(
            _QueueRule(
                q.id,
                compile_condition(q.when, is_profile_field) if q.when is not None else None,
                tuple(rep.id for rep in q.reps),
            )
            for q in document.queues
        )
        self.handoff_stage: str = document.handoff.stage
        self.fallback_queue: str = document.handoff.fallback_queue
        self.first_touch_within: timedelta = document.obligations.first_touch.within

    def qualify(
        self, facts: dict[str, Any], current_stage: str, asserted: str | None = None
    ) -> Qualification:
        """Score ``facts``, classify the stage (never backwards) and explain which rules fired."""
        fired: list[FiredRule] = []
        fit = 0
        for rule in self._fit:
            if rule.predicate(facts):
                fit += rule.points
                fired.append(FiredRule(rule.id, "fit", rule.points))
        engagement = 0
        for erule in self._engagement:
            count = facts.get(f"activity.{erule.activity}", 0)
            if count:
                points = count * erule.points
                if erule.cap is not None:
                    points = min(points, erule.cap)
                engagement += points
                fired.append(FiredRule(erule.id, "engagement", points))
        evaluated = "engaged" if engagement > 0 else "new"
        disqualifier = next((d for d in self._disqualifiers if d.predicate(facts)), None)
        if disqualifier is not None:
            fired.append(FiredRule(disqualifier.id, "disqualifier"))
            evaluated = DISQUALIFIED
        else:
            facts["fit_score"] = fit
            facts["engagement_score"] = engagement
            if self._sql(facts):
                evaluated = "sql"
                fired.append(FiredRule("stage.sql", "stage"))
            elif self._mql(facts):
                evaluated = "mql"
                fired.append(FiredRule("stage.mql", "stage"))
        if asserted is not None:
            fired.append(FiredRule(f"source.{asserted}", "source"))
        return Qualification(fit, engagement, advance(current_stage, evaluated, asserted), tuple(fired))

    def route(self, facts: Mapping[str, Any]) -> RouteChoice:
        """The first queue whose rule matches, else the agreement's fallback queue."""
        for queue in self._queues:
            if queue.predicate is None or queue.predicate(facts):
                return RouteChoice(queue.id, queue.id)
        return RouteChoice(self.fallback_queue, "fallback")

    def reps_of(self, queue: str) -> tuple[str, ...]:
        """The queue's reps in rotation order."""
        for q in self._queues:
            if q.id == queue:
                return q.reps
        raise KeyError(queue)


def compile_agreement(document: AgreementDocument) -> CompiledAgreement:
    """Compile a validated document; raises ``UnknownFieldError`` for a field no lead has."""
    return CompiledAgreement(document)
