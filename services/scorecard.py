"""The review scorecard: every goal and obligation of an agreement version over a window, with its
target, actual, status, and what the agreement prescribes for a miss."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from router.agreement import CompiledAgreement
from router.reviews import next_review
from schemas.reports import GoalFigure, RateGoalFigure, ReviewSchedule, Scorecard, ScorecardItem, SlaReport
from services.reports import Window, sla_report

Side = Literal["marketing", "sales"]
ItemStatus = Literal["met", "on_track", "at_risk", "missed", "no_data"]


async def scorecard(conn: AsyncConnection, agreement: CompiledAgreement, window: Window) -> Scorecard:
    """The scorecard of ``agreement`` over ``window`` (its figures from the SLA report of the window)."""
    report = await sla_report(conn, agreement, window, None)
    return build_scorecard(agreement, report, window)


def build_scorecard(agreement: CompiledAgreement, report: SlaReport, window: Window) -> Scorecard:
    """The scorecard from a report of the window (no grouping)."""
    document = agreement.document
    items: list[ScorecardItem] = []
    goals = report.goals
    if goals is not None:
        if goals.mqls is not None:
            items.append(_count("marketing", "mqls", f"{goals.mqls.target:g} MQLs", goals.mqls))
        items += [
            _count("marketing", f"mqls.{s.segment}", f"{s.target:g} MQLs in segment {s.segment}", s)
            for s in goals.by_segment
        ]
        rates: list[tuple[Side, str, RateGoalFigure | None]] = [
            ("marketing", "data_completeness", goals.data_completeness),
            ("sales", "acceptance_rate", goals.acceptance_rate),
            ("sales", "mql_to_sql_rate", goals.mql_to_sql_rate),
        ]
        for side, name, rate in rates:
            if rate is not None:
                items.append(_rate(side, name, rate, window))
    sales = report.groups[0].sales
    obligations = document.obligations
    first, attempts, decision = obligations.first_touch, obligations.attempts, obligations.decision
    plans = {"first_touch": (f"first touch within {_spoken(first.within)}", first.target)}
    if attempts is not None:
        plans["attempts"] = (f"{attempts.count} attempts within {_spoken(attempts.within)}", attempts.target)
    if decision is not None:
        plans["decision"] = (f"accept or reject within {_spoken(decision.within)}", decision.target)
    for name, figures in sales.obligations.items():
        stated, target = plans[name]
        actual = figures.met_rate
        items.append(ScorecardItem(
            side="sales", item=name, target=f"{target:.0%} of leads: {stated}", target_value=target,
            actual_value=actual, status=_share_status(actual, target, window),
            remediation=_prescribed(agreement, name),
        ))  # fmt: skip
    review = document.review
    notice = document.termination.notice_days if document.termination else 0
    return Scorecard(
        agreement_version=agreement.version, from_=window.start, to=window.end, generated_at=window.now,
        review=ReviewSchedule(
            every_months=review.every_months if review else None, owner=review.owner if review else None,
            next_review_on=next_review(document.valid_from, document.valid_to,
                                       review.every_months if review else None, window.now.date()),
            expiry_review_on=document.valid_to - timedelta(days=notice) if document.valid_to else None,
            valid_to=document.valid_to,
        ),
        items=items, missed=sum(i.status == "missed" for i in items),
        at_risk=sum(i.status == "at_risk" for i in items),
        termination_conditions=list(document.termination.conditions) if document.termination else [],
    )  # fmt: skip


def _spoken(span: timedelta) -> str:
    """A deadline as people say it: 4 h, 5 days, 90 min."""
    seconds = int(span.total_seconds())
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {'day' if unit == 'days' and count == 1 else unit}"
    return f"{seconds} s"


def _count(side: Side, name: str, target: str, figure: GoalFigure) -> ScorecardItem:
    return ScorecardItem(
        side=side, item=name, target=target, target_value=figure.target, actual_value=figure.actual,
        status=figure.status, remediation=[],
    )  # fmt: skip


def _rate(side: Side, name: str, rate: RateGoalFigure, window: Window) -> ScorecardItem:
    return ScorecardItem(
        side=side, item=name, target=f"{rate.target:.0%}", target_value=rate.target,
        actual_value=rate.actual, status=_share_status(rate.actual, rate.target, window), remediation=[],
    )  # fmt: skip


def _share_status(actual: float | None, target: float, window: Window) -> ItemStatus:
    """A share against its target: met, or below it: at risk while the window runs, then missed."""
    if actual is None:
        return "no_data"
    if actual >= target:
        return "met"
    return "missed" if window.now >= window.end else "at_risk"


def _prescribed(agreement: CompiledAgreement, obligation: str) -> list[str]:
    """The remediations and notifications of the agreement's escalations of ``obligation``."""
    prescribed = []
    for step in agreement.document.escalations:
        if step.obligation != obligation:
            continue
        for action in step.actions:
            if action.remediation:
                prescribed.append(f"after breach {step.after}: {action.remediation}")
            if action.notify:
                prescribed.append(f"after breach {step.after}: notify {action.notify}")
    return prescribed
