"""The SLA report: both sides' KPIs over a window, against the agreement's goals.

Counts come from SQL aggregates over the stored history (``services.db.reports``); the arithmetic
(proration, pace, percentiles) is ``router.reports``. Segments and business times are computed here
from the rows of the window, with the agreement that is active now.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from router.agreement import CompiledAgreement, lead_facts
from router.engagement import weights_at
from router.reports import Period, percentile, period_end, period_start, progress, prorated_goal, share
from router.sla import OBLIGATIONS
from schemas.problems import FieldError
from schemas.reports import (
    Bucket,
    Durations,
    GoalFigure,
    Goals,
    GroupBy,
    GroupFigures,
    Marketing,
    ObligationFigures,
    RateGoalFigure,
    RepShare,
    Routing,
    Sales,
    SegmentGoalFigure,
    SlaReport,
    WeeklyBreaches,
)
from services.db import reports as facts
from services.errors import DomainError

Row = dict[str, Any]
MAX_WINDOW = timedelta(days=400)


@dataclass(frozen=True)
class Window:
    """The report's window [start, end), and when the report is made (for the pace)."""

    start: datetime
    end: datetime
    now: datetime


def as_utc(value: datetime | date) -> datetime:
    """A date as its UTC midnight; a datetime without a zone as UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def report_window(
    start: datetime | date | None, end: datetime | date | None, period: Period, now: datetime
) -> Window:
    """The window asked for; by default the current goal period (its pace projected to its end)."""
    first = as_utc(start) if start is not None else period_start(now, period)
    last = as_utc(end) if end is not None else period_end(period_start(first, period), period)
    if last <= first or last - first > MAX_WINDOW:
        raise DomainError(
            422, "validation-error", "Invalid report window",
            f"'from' must be before 'to' and the window at most {MAX_WINDOW.days} days",
            errors=[FieldError(field="query.to", message="not after from", code="invalid_window")],
        )  # fmt: skip
    return Window(first, last, now)


async def sla_report(
    conn: AsyncConnection, agreement: CompiledAgreement, window: Window, group_by: GroupBy | None
) -> SlaReport:
    """Both sides' KPIs over the window, per group, and the goals over the whole window."""
    start, end, now = window.start, window.end, window.now
    by_segment = group_by == "segment"
    group_by_key = facts.LEAD if by_segment else group_by  # segments: per lead first, folded below
    groups: dict[str, Row] = defaultdict(_empty)
    handoffs = await _collect(conn, agreement, window, group_by_key, groups)
    if not groups:
        groups[facts.ALL] = _empty()
    totals = _total(groups.values()) if group_by is not None else groups[facts.ALL]
    if by_segment:
        groups = await _fold_segments(conn, agreement, groups, now)
    return SlaReport(
        from_=start, to=end, generated_at=now, agreement_version=agreement.version, group_by=group_by,
        goals=await _goals(conn, agreement, totals, window),
        groups=[_figures(key, groups[key], agreement) for key in sorted(groups)],
        distribution=_distribution(handoffs, agreement),
        breaches_by_week=_weekly(await facts.breaches(conn, start, end)),
    )  # fmt: skip


async def _collect(
    conn: AsyncConnection,
    agreement: CompiledAgreement,
    window: Window,
    group_by: str | None,
    groups: dict[str, Row],
) -> list[Row]:
    """Every fact of the window, counted into ``groups`` by the key of ``group_by``; the handoffs."""
    start, end = window.start, window.end
    for row in await facts.leads_created(conn, start, end, group_by):
        groups[row["key"]]["leads"] = row["leads"]
    entries = await facts.stage_entries(conn, start, end, group_by)
    for row in entries:
        for name in ("mqls", "sqls", "mql_to_sql", "sql_converted"):
            groups[row["key"]][name] += row[name]
    handoffs = await facts.handoffs(conn, start, end, group_by)
    _count_handoffs(groups, handoffs, agreement)
    for row in await facts.feedback(conn, start, end, group_by):
        _count_feedback(groups[row["key"]], row)
    for row in await facts.closed_clocks(conn, start, end, group_by):
        figures = groups[row["key"]]["obligations"][row["obligation"]]
        figures[row["state"]] += row["count"]
        figures["attempts_made"] += row["attempts_made"] or 0
        figures["attempts_required"] += row["attempts_required"] or 0
    for row in await facts.warnings(conn, start, end, group_by):
        groups[row["key"]]["obligations"][row["obligation"]]["warned"] += row["count"]
    for row in await facts.first_touches(conn, start, end, group_by):
        used = agreement.clock_time_used(row["started_at"], row["fulfilled_at"], row["calendar"])
        seconds = max(used.total_seconds() - (row["paused_seconds"] or 0.0), 0.0)
        groups[row["key"]]["touch_seconds"].append(seconds)
    for row in await facts.reassignments(conn, start, end, group_by):
        groups[row["key"]]["reassignments"] += row["count"]
    await _unassigned_waits(conn, groups, window, group_by)
    return handoffs


async def _fold_segments(
    conn: AsyncConnection, agreement: CompiledAgreement, per_lead: dict[str, Row], now: datetime
) -> dict[str, Row]:
    """Per-lead figures summed into the goal segments each lead belongs to now (a lead in two
    segments counts in both; one in none, in ``none``)."""
    ids = {key: uuid.UUID(key) for key in per_lead if key not in (facts.ALL, "none")}
    segments: dict[uuid.UUID, list[str]] = {}
    for row in await facts.lead_fact_rows(conn, list(set(ids.values()))):
        segments[row["id"]] = agreement.segments(_facts(agreement, row, now), now)
    folded: dict[str, Row] = defaultdict(_empty)
    for key, figures in per_lead.items():
        lead_id = ids.get(key)
        for name in (segments.get(lead_id, []) if lead_id else []) or ["none"]:
            _merge(folded[name], figures)
    return folded


def _merge(into: Row, figures: Row) -> None:
    for name, value in figures.items():
        if name == "obligations":
            for obligation, counts in value.items():
                for field, count in counts.items():
                    into["obligations"][obligation][field] += count
        elif name == "reasons":
            for reason, count in value.items():
                into["reasons"][reason] += count
        else:
            into[name] += value  # counts add, lists concatenate


def _facts(agreement: CompiledAgreement, row: Row, now: datetime) -> dict[str, Any]:
    """What rules see of a stored lead now."""
    weights = weights_at(row["engagement_weights"], row["engagement_as_of"], now, agreement.half_life_days)
    return lead_facts(
        row["profile"], row["activity_counts"], weights=weights, last_activity_at=row["last_activity_at"],
        created_at=row["created_at"],
    )  # fmt: skip


def _empty() -> Row:
    return {
        "leads": 0, "mqls": 0, "sqls": 0, "mql_to_sql": 0, "sql_converted": 0, "handed_off": 0,
        "complete": 0, "completeness_counted": 0, "accepted": 0, "rejected": 0, "converted": 0,
        "reasons": defaultdict(int), "touch_seconds": [], "reassignments": 0, "waits": [], "waiting": 0,
        "obligations": defaultdict(
            lambda: {"met": 0, "breached": 0, "warned": 0, "attempts_made": 0, "attempts_required": 0}
        ),
    }  # fmt: skip


def _count_handoffs(groups: dict[str, Row], handoffs: list[Row], agreement: CompiledAgreement) -> None:
    """Handoffs per group, and the share of handed-off leads with every data-completeness field."""
    goals = agreement.document.goals
    fields = goals.marketing.data_completeness.fields if goals and goals.marketing.data_completeness else None
    seen: set[tuple[str, Any]] = set()
    for row in handoffs:
        group = groups[row["key"]]
        group["handed_off"] += 1
        if fields is None or (row["key"], row["lead_id"]) in seen:
            continue
        seen.add((row["key"], row["lead_id"]))  # a lead handed off twice counts once
        group["completeness_counted"] += 1
        group["complete"] += all(_filled(row["profile"].get(name)) for name in fields)


def _filled(value: Any) -> bool:
    return value is not None and value not in ("", [])


def _count_feedback(group: Row, row: Row) -> None:
    outcome, count = row["outcome"], row["count"]
    if outcome == "accepted":
        group["accepted"] += count
    elif outcome == "rejected":
        group["rejected"] += count
        group["reasons"][row["reason"] or "unspecified"] += count
    elif outcome == "converted":
        group["converted"] += count


async def _unassigned_waits(
    conn: AsyncConnection, groups: dict[str, Row], window: Window, group_by: str | None
) -> None:
    """Each lead.unassigned of the window waits until the lead's next handoff (or is still waiting)."""
    waits = await facts.unassigned_events(conn, window.start, window.end)
    if not waits:
        return
    ids = [row["lead_id"] for row in waits]
    keys = await facts.lead_groups(conn, ids, group_by)
    handed: dict[str, list[datetime]] = defaultdict(list)
    for row in await facts.handoffs_after(conn, ids, min(row["at"] for row in waits)):
        handed[row["lead_id"]].append(row["at"])
    for row in waits:
        group = groups[keys.get(row["lead_id"], "none")]
        ended = [at for at in handed[row["lead_id"]] if at >= row["at"]]
        if ended:
            group["waits"].append((min(ended) - row["at"]).total_seconds())
        else:
            group["waiting"] += 1


def _total(groups: Iterable[Row]) -> Row:
    total = _empty()
    for group in groups:
        _merge(total, group)
    return total


def _figures(key: str, group: Row, agreement: CompiledAgreement) -> GroupFigures:
    decided = group["accepted"] + group["rejected"]
    obligations = {}
    for name in OBLIGATIONS:
        if name not in agreement.deadlines:
            continue
        counts = group["obligations"][name]
        is_attempts = name == "attempts"
        obligations[name] = ObligationFigures(
            met=counts["met"], breached=counts["breached"], warned=counts["warned"],
            met_rate=share(counts["met"], counts["met"] + counts["breached"]),
            attempts_made=counts["attempts_made"] if is_attempts else None,
            attempts_required=counts["attempts_required"] if is_attempts else None,
        )  # fmt: skip
    return GroupFigures(
        key=key,
        marketing=Marketing(
            leads=group["leads"], mqls=group["mqls"], sqls=group["sqls"], handed_off=group["handed_off"],
            data_completeness=share(group["complete"], group["completeness_counted"]),
            rejected_by_reason=dict(sorted(group["reasons"].items())),
            rejection_rate=share(group["rejected"], decided),
        ),
        sales=Sales(
            accepted=group["accepted"], rejected=group["rejected"],
            acceptance_rate=share(group["accepted"], decided),
            converted=group["converted"], time_to_first_touch=_durations(group["touch_seconds"]),
            obligations=obligations, mql_to_sql_rate=share(group["mql_to_sql"], group["mqls"]),
            sql_to_opportunity_rate=share(group["sql_converted"], group["sqls"]),
        ),
        routing=Routing(
            reassignments=group["reassignments"], unassigned=_durations(group["waits"]),
            still_waiting=group["waiting"],
        ),
    )  # fmt: skip


BUCKETS = (900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0)


def _durations(seconds: list[float]) -> Durations:
    counts = [0] * (len(BUCKETS) + 1)
    for value in seconds:
        counts[bisect_left(BUCKETS, value)] += 1
    histogram = [Bucket(le_seconds=bound, count=n) for bound, n in zip([*BUCKETS, None], counts, strict=True)]
    return Durations(
        count=len(seconds), p50_seconds=percentile(seconds, 0.5), p90_seconds=percentile(seconds, 0.9),
        histogram=histogram,
    )  # fmt: skip


def _weekly(rows: list[Row]) -> list[WeeklyBreaches]:
    """Breached clocks per ISO week (its Monday) and queue."""
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for row in rows:
        day = row["closed_at"].date()
        counts[(day - timedelta(days=day.weekday()), row["queue"] or "none")] += 1
    return [WeeklyBreaches(week=week, queue=queue, breaches=n) for (week, queue), n in sorted(counts.items())]


def _distribution(handoffs: list[Row], agreement: CompiledAgreement) -> list[RepShare]:
    """Handoffs per rep of each queue against the shares of the queue's weights."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    per_queue: dict[str, int] = defaultdict(int)
    for row in handoffs:
        if row["queue"] is not None and row["rep_id"] is not None:
            counts[(row["queue"], row["rep_id"])] += 1
            per_queue[row["queue"]] += 1
    for queue in agreement.document.queues:
        for rep in queue.reps:
            counts.setdefault((queue.id, rep.id), 0)
    shares = []
    for (queue_id, rep_id), handed in sorted(counts.items()):
        plan = agreement.queue_plans.get(queue_id)
        weights = {r: w for r, w in plan.members if agreement.reps[r].active} if plan else {}
        expected = share(weights[rep_id], sum(weights.values())) if rep_id in weights else None
        shares.append(RepShare(
            queue=queue_id, rep_id=rep_id, handoffs=handed, share=share(handed, per_queue[queue_id]),
            expected_share=expected,
        ))  # fmt: skip
    return shares


async def _goals(
    conn: AsyncConnection, agreement: CompiledAgreement, totals: Row, window: Window
) -> Goals | None:
    start, end, now = window.start, window.end, window.now
    goals = agreement.document.goals
    if goals is None:
        return None
    marketing, sales = goals.marketing, goals.sales

    def goal(per_period: int, actual: int) -> GoalFigure:
        target = prorated_goal(per_period, goals.period, start, end)
        reached = progress(target, actual, start, end, now)
        return GoalFigure(**reached.__dict__)

    by_segment = []
    if marketing.by_segment:
        counted = await _segment_mqls(conn, agreement, window)
        for segment in marketing.by_segment:
            figure = goal(segment.mqls, counted.get(segment.segment, 0))
            by_segment.append(SegmentGoalFigure(segment=segment.segment, **figure.model_dump()))
    decided = totals["accepted"] + totals["rejected"]
    return Goals(
        period=goals.period,
        mqls=goal(marketing.mqls, totals["mqls"]),
        by_segment=by_segment,
        data_completeness=_rate(
            marketing.data_completeness.target if marketing.data_completeness else None,
            share(totals["complete"], totals["completeness_counted"]),
        ),
        acceptance_rate=_rate(sales.acceptance_rate, share(totals["accepted"], decided)),
        mql_to_sql_rate=_rate(sales.mql_to_sql_rate, share(totals["mql_to_sql"], totals["mqls"])),
    )


def _rate(target: float | None, actual: float | None) -> RateGoalFigure | None:
    if target is None:
        return None
    status = "no_data" if actual is None else "met" if actual >= target else "missed"
    return RateGoalFigure(target=target, actual=actual, status=status)


async def _segment_mqls(
    conn: AsyncConnection, agreement: CompiledAgreement, window: Window
) -> dict[str, int]:
    """MQL entries of the window per goal segment, the lead's facts evaluated as they are now."""
    counted: dict[str, int] = defaultdict(int)
    for row in await facts.mql_leads(conn, window.start, window.end):
        for segment in agreement.segments(_facts(agreement, row, window.now), window.now):
            counted[segment] += 1
    return counted


__all__ = ["Window", "as_utc", "report_window", "sla_report"]
