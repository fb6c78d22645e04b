"""Compile an agreement document into an explainable evaluator (pure: no I/O).

``compile_agreement`` checks every expression of the document (syntax, field names, types) and
generates two Python functions from the checked syntax trees: ``qualify`` (fit score, decayed
engagement score, disqualifiers, stage, and the list of rules that fired) and ``route`` (special
cases, then the queues in order, then the fallback queue). Each reads the facts it needs once and
evaluates every rule inline, with no call per rule: an agreement of 30 scoring and 15 queue rules
runs at a useful fraction of hand-written Python (``bench/rules.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from router.calendars import WorkingCalendar
from router.rules.compiler import (
    ANY,
    BOOL,
    DATETIME,
    LIST,
    NUMBER,
    STRING,
    Catalog,
    ExpressionCompiler,
    Symbol,
    build_function,
)
from router.rules.syntax import Name, RuleSyntaxError, parse, walk
from router.sla import ATTEMPTS, DECISION, FIRST_TOUCH, ClockTimes, clock_times, escalation_for, time_used
from router.stages import DISQUALIFIED, advance
from schemas.agreement import AgreementDocument, Escalation, Persona, Rep
from schemas.vocabulary import ACTIVITY_TYPES

PROFILE_TYPES: dict[str, str] = {
    **dict.fromkeys(
        ("source", "email_domain", "company", "website", "title", "seniority", "department", "industry",
         "country", "region", "city", "lead_source", "utm_source", "utm_medium", "utm_campaign"),
        STRING,
    ),
    "employees": NUMBER, "annual_revenue": NUMBER, "intent_score": NUMBER,
    "product_interest": LIST, "tags": LIST, "consent_marketing": BOOL,
    "last_activity_at": DATETIME, "created_at": DATETIME,
}  # fmt: skip
PROFILE_FIELDS: frozenset[str] = frozenset(PROFILE_TYPES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Fact names built once (lead_facts runs for every decision).
_NO_PROFILE: dict[str, Any] = dict.fromkeys(PROFILE_FIELDS)
_ACTIVITY_FACTS = tuple((activity, f"activity.{activity}") for activity in ACTIVITY_TYPES)
_NO_ACTIVITY: dict[str, int] = dict.fromkeys((name for _, name in _ACTIVITY_FACTS), 0)
_WEIGHT_FACTS = {activity: f"weight.{activity}" for activity in ACTIVITY_TYPES}


class RuleError(ValueError):
    """An expression of the document that does not compile, with where it is in the document."""

    def __init__(self, path: tuple[str | int, ...], rule: str, error: RuleSyntaxError) -> None:
        self.path = path
        self.rule = rule
        self.error = error
        where = ".".join(map(str, path))
        super().__init__(f"{where} (rule {rule}): {error.message}")


def lead_facts(
    profile: Mapping[str, Any],
    activity_counts: Mapping[str, int],
    *,
    weights: Mapping[str, float] | None = None,
    last_activity_at: datetime | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The facts rules are evaluated on: profile fields, attributes, activity counts and weights.

    ``weights`` are the engagement weights per activity type decayed to the moment of evaluation
    (``router.engagement.weights_at``); without them each activity counts fully.
    """
    facts = _NO_PROFILE.copy()
    for name in PROFILE_FIELDS.intersection(profile):
        facts[name] = profile[name]
    email = profile.get("email")
    if facts["email_domain"] is None and isinstance(email, str) and "@" in email:
        facts["email_domain"] = email.rpartition("@")[2]
    facts["last_activity_at"] = last_activity_at
    facts["created_at"] = created_at
    for key, value in (profile.get("attributes") or {}).items():
        facts[f"attributes.{key}"] = value
    if activity_counts:
        for activity, name in _ACTIVITY_FACTS:
            facts[name] = activity_counts.get(activity, 0)
    else:
        facts.update(_NO_ACTIVITY)
    for activity, weight in (weights if weights is not None else activity_counts).items():
        facts[_WEIGHT_FACTS.get(activity) or f"weight.{activity}"] = weight
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
class QueuePlan:
    """How a queue assigns: its strategy and its members with their weights, in queue order."""

    strategy: str
    members: tuple[tuple[str, int], ...]
    sticky_accounts: bool = False


@dataclass(frozen=True, slots=True)
class RouteChoice:
    """The queue a lead goes to and why."""

    queue: str
    matched_by: str  # the queue's own rule, a special case ("special.<id>"), or "fallback"


def _catalog(personas: list[Persona], *, scores: bool) -> Catalog:
    names: dict[str, Symbol] = {name: Symbol(kind) for name, kind in PROFILE_TYPES.items()}
    names.update({f"activity.{a}": Symbol(NUMBER, nullable=False) for a in ACTIVITY_TYPES})
    names.update(
        {f"persona.{p.id}": Symbol(BOOL, nullable=False, source=f"p_{i}") for i, p in enumerate(personas)}
    )
    if scores:
        names["fit_score"] = Symbol(NUMBER, nullable=False, source="fit")
        names["engagement_score"] = Symbol(NUMBER, nullable=False, source="engagement")
    return Catalog(names, {"attributes.": Symbol(ANY)})


class _FunctionBuilder:
    """One generated function: its expressions, the personas they use and the facts they read."""

    def __init__(self, document: AgreementDocument, *, scores: bool) -> None:
        self.document = document
        self.compiler = ExpressionCompiler(_catalog(document.personas, scores=scores))
        self.body: list[str] = []

    def condition(self, text: str, path: tuple[str | int, ...], rule: str) -> str:
        try:
            return self.compiler.condition(parse(text), text)
        except RuleSyntaxError as error:
            raise RuleError(path, rule, error) from None

    def build(self, name: str) -> Callable[..., Any]:
        # Personas come first, in document order (a persona may use only earlier ones), then the
        # rules; every fact any of them reads is loaded once at the top.
        personas = []
        for i, persona in enumerate(self.document.personas):
            path = ("personas", i, "when")
            tree = parse(persona.when)
            later = {f"persona.{p.id}" for p in self.document.personas[i:]}
            for node in walk(tree):
                if isinstance(node, Name) and node.name in later:
                    problem = RuleSyntaxError(
                        "a persona can only use personas defined before it", persona.when, node.offset
                    )
                    raise RuleError(path, persona.id, problem)
            personas.append(f"p_{i} = {self.condition(persona.when, path, persona.id)}")
        loads = [f"{local} = get({field!r})" for field, local in self.compiler.loads.items()]
        body = ["get = facts.get", *loads, *personas, *self.body]
        return build_function(name, "facts, now", body, self.compiler.constants)  # type: ignore[no-any-return]


def _qualify_function(document: AgreementDocument) -> Callable[..., Any]:
    builder = _FunctionBuilder(document, scores=True)
    compiler, body = builder.compiler, builder.body
    rule_class, rounding = compiler.constant(FiredRule, "c"), compiler.constant(round, "c")
    scoring = document.scoring
    body += ["fired = []", "add = fired.append", "fit = 0"]
    for i, fit_rule in enumerate(scoring.fit):
        test = builder.condition(fit_rule.when, ("scoring", "fit", i, "when"), fit_rule.id)
        fired = compiler.constant(FiredRule(fit_rule.id, "fit", fit_rule.points), "c")
        body += [f"if {test}:", f"    fit += {fit_rule.points}", f"    add({fired})"]
    if scoring.fit_cap is not None:
        body += [f"if fit > {scoring.fit_cap}:", f"    fit = {scoring.fit_cap}"]
    body += ["engagement = 0"]
    for rule in scoring.engagement.rules:
        weight = compiler.constant(f"weight.{rule.activity}", "k")
        body += [f"w = get({weight})", "if w:", f"    points = {rounding}(w * {rule.points})"]
        if rule.max_points is not None:
            body += [f"    if points > {rule.max_points}:", f"        points = {rule.max_points}"]
        rule_id = compiler.constant(rule.id, "k")
        body += ["    if points:", "        engagement += points",
                 f"        add({rule_class}({rule_id}, 'engagement', points))"]  # fmt: skip
    if scoring.engagement.cap is not None:
        cap = scoring.engagement.cap
        body += [f"if engagement > {cap}:", f"    engagement = {cap}"]
    for i, disqualifier in enumerate(scoring.disqualifiers):
        test = builder.condition(disqualifier.when, ("scoring", "disqualifiers", i, "when"), disqualifier.id)
        fired = compiler.constant(FiredRule(disqualifier.id, "disqualifier"), "c")
        body += [f"if {test}:", f"    add({fired})", f"    return fit, engagement, {DISQUALIFIED!r}, fired"]
    stages = document.stages
    for stage in ("sql", "mql"):
        test = builder.condition(getattr(stages, stage), ("stages", stage), f"stage.{stage}")
        fired = compiler.constant(FiredRule(f"stage.{stage}", "stage"), "c")
        body += [f"if {test}:", f"    add({fired})", f"    return fit, engagement, {stage!r}, fired"]
    engaged = builder.condition(stages.engaged, ("stages", "engaged"), "stage.engaged")
    body += [f"return fit, engagement, 'engaged' if {engaged} else 'new', fired"]
    return builder.build("qualify")


def _route_function(document: AgreementDocument) -> Callable[..., Any]:
    builder = _FunctionBuilder(document, scores=False)
    compiler, body = builder.compiler, builder.body
    for i, case in enumerate(document.special_cases):
        if case.queue is None:
            continue
        test = builder.condition(case.when, ("special_cases", i, "when"), case.id)
        choice = compiler.constant(RouteChoice(case.queue, f"special.{case.id}"), "c")
        body += [f"if {test}:", f"    return {choice}"]
    for i, queue in enumerate(document.queues):
        choice = compiler.constant(RouteChoice(queue.id, queue.id), "c")
        if queue.when is None:
            body += [f"return {choice}"]
            break
        test = builder.condition(queue.when, ("queues", i, "when"), queue.id)
        body += [f"if {test}:", f"    return {choice}"]
    else:
        body += [f"return {compiler.constant(RouteChoice(document.handoff.fallback_queue, 'fallback'), 'c')}"]
    return builder.build("route")


def _segments_function(document: AgreementDocument) -> Callable[..., Any]:
    builder = _FunctionBuilder(document, scores=False)
    body = builder.body
    body += ["found = []"]
    for i, segment in enumerate(document.goals.marketing.by_segment if document.goals is not None else []):
        where = ("goals", "marketing", "by_segment", i, "when")
        test = builder.condition(segment.when, where, segment.segment)
        body += [f"if {test}:", f"    found.append({segment.segment!r})"]
    body += ["return found"]
    return builder.build("segments")


def _check_other_expressions(document: AgreementDocument) -> None:
    """Special cases without a queue are not evaluated here, but must be valid."""
    builder = _FunctionBuilder(document, scores=False)
    for i, case in enumerate(document.special_cases):
        builder.condition(case.when, ("special_cases", i, "when"), case.id)


class CompiledAgreement:
    """An agreement compiled once into two generated functions; evaluation is pure."""

    def __init__(self, document: AgreementDocument) -> None:
        self.document = document
        self.version = document.version_label
        self._qualify = _qualify_function(document)
        self._route = _route_function(document)
        self._segments = _segments_function(document)
        _check_other_expressions(document)
        self.queue_plans = {
            q.id: QueuePlan(q.strategy, tuple((rep.id, rep.weight) for rep in q.reps), q.sticky_accounts)
            for q in document.queues
        }
        self.reps: dict[str, Rep] = {rep.id: rep for q in document.queues for rep in q.reps}
        self.calendars = {c.id: WorkingCalendar(c) for c in document.calendars}
        self.handoff_stage: str = document.handoff.stage
        self.fallback_queue: str = document.handoff.fallback_queue
        self.rejection_reasons: tuple[str, ...] = tuple(document.handoff.rejection_reasons)
        obligations = document.obligations
        # obligation -> (within, warning share, calendar id) of its clock
        self.deadlines: dict[str, tuple[timedelta, float | None, str | None]] = {
            FIRST_TOUCH: (obligations.first_touch.within, obligations.first_touch.warn_at,
                          obligations.first_touch.calendar),
        }  # fmt: skip
        self.attempts_required: int | None = None  # contact attempts the attempts obligation asks for
        if obligations.attempts is not None:
            attempts = obligations.attempts
            self.deadlines[ATTEMPTS] = (attempts.within, attempts.warn_at, attempts.calendar)
            self.attempts_required = attempts.count
        if obligations.decision is not None:
            decision = obligations.decision
            self.deadlines[DECISION] = (decision.within, decision.warn_at, decision.calendar)
        self.half_life_days: float | None = document.scoring.engagement.half_life_days

    def qualify(
        self, facts: dict[str, Any], current_stage: str, asserted: str | None = None, now: datetime = _EPOCH
    ) -> Qualification:
        """Score ``facts``, classify the stage (never backwards) and explain which rules fired."""
        fit, engagement, evaluated, fired = self._qualify(facts, now)
        if asserted is not None:
            fired.append(FiredRule(f"source.{asserted}", "source"))
        return Qualification(fit, engagement, advance(current_stage, evaluated, asserted), tuple(fired))

    def route(self, facts: Mapping[str, Any], now: datetime = _EPOCH) -> RouteChoice:
        """The first special case or queue whose rule matches, else the agreement's fallback queue."""
        choice: RouteChoice = self._route(facts, now)
        return choice

    def segments(self, facts: Mapping[str, Any], now: datetime = _EPOCH) -> list[str]:
        """The goal segments (``goals.marketing.by_segment``) a lead with ``facts`` belongs to."""
        found: list[str] = self._segments(facts, now)
        return found

    def calendar_of(self, rep_id: str) -> WorkingCalendar | None:
        """The working calendar of a rep of this agreement (``None``: always working)."""
        rep = self.reps.get(rep_id)
        return self.calendars[rep.calendar] if rep is not None and rep.calendar is not None else None

    def deadline_clock(self, obligation: str, started_at: datetime, rep_id: str | None) -> ClockTimes | None:
        """When ``obligation`` (first_touch, attempts, decision) started at ``started_at`` warns and is
        due: its time counted on the rep's working calendar if the rep has one, else on the obligation's
        calendar, else on the wall clock. None if this agreement has no such obligation."""
        deadline = self.deadlines.get(obligation)
        if deadline is None:
            return None
        within, warn_share, calendar_id = deadline
        calendar = self.calendar_of(rep_id) if rep_id is not None else None
        return clock_times(
            started_at, within, warn_share, calendar or (self.calendars[calendar_id] if calendar_id else None)
        )

    def escalation(self, obligation: str, breaches: int) -> Escalation | None:
        """What the agreement does on the ``breaches``-th breach of ``obligation`` on one lead."""
        return escalation_for(self.document.escalations, obligation, breaches)

    def escalates(self, obligation: str) -> bool:
        """Whether a breach of ``obligation`` can have an escalation step in this agreement."""
        return any(step.obligation == obligation for step in self.document.escalations)

    def clock_time_used(self, started_at: datetime, at: datetime, calendar_id: str | None) -> timedelta:
        """Time counted against a clock from ``started_at`` to ``at`` on its calendar; a calendar this
        version no longer has (or none) counts wall-clock time."""
        return time_used(started_at, at, self.calendars.get(calendar_id) if calendar_id else None)

    @property
    def source(self) -> str:
        """The generated Python of both functions (what ``leadrouter agreement show --compiled`` prints)."""
        return f"{getattr(self._qualify, 'source', '')}\n\n{getattr(self._route, 'source', '')}"


def compile_agreement(document: AgreementDocument) -> CompiledAgreement:
    """Compile a validated document; raises ``RuleError`` for an expression that does not compile."""
    return CompiledAgreement(document)
