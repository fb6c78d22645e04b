"""The facts reports are made of, read over a time window [start, end) and grouped by queue, rep or
source. Each query uses the time index of its table (migration 0010)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from router.sla import FIRST_TOUCH
from schemas.events import LEAD_HANDED_OFF, LEAD_UNASSIGNED
from services.db.bulk import chunks
from services.db.tables import decisions, lead_events, leads, outbox, sla_clocks

Row = dict[str, Any]
ALL = "all"
LEAD = "lead"  # group by lead (to fold leads into their goal segments afterwards)
_QUALIFIED = ("mql", "sql")


def _key(column: sa.ColumnElement[Any] | None) -> sa.ColumnElement[Any]:
    """The group key column (``all`` without grouping; ``none`` for a lead without queue or rep)."""
    if column is None:
        return sa.literal(ALL).label("key")
    return sa.func.coalesce(column, "none").label("key")


def _pick(group_by: str | None, *, queue: Any, rep: Any, source: Any) -> Any:
    """The column a fact is grouped by: its queue, rep or lead source, or (``lead``) the lead itself."""
    by_lead = sa.cast(leads.c.id, sa.String)
    return {"queue": queue, "rep": rep, "source": source, LEAD: by_lead}.get(group_by or "")


# clocks with their leads (grouping by source reads the lead)
_CLOCKS = sla_clocks.join(leads, leads.c.id == sla_clocks.c.lead_id)


def _clock_key(group_by: str | None) -> sa.ColumnElement[Any]:
    """The group key of a clock fact: the clock's queue or rep, or its lead's source."""
    return _key(_pick(group_by, queue=sla_clocks.c.queue, rep=sla_clocks.c.rep_id, source=leads.c.source))


def _literal(value: str) -> sa.ColumnClause[str]:
    """``value`` as an SQL literal, not a parameter: the time indexes these filters use are partial on
    exactly these values (``services.db.tables``), and a planner can prove a partial index applies
    only from the value itself."""
    return sa.literal_column(f"'{value}'")


_FEEDBACK = _literal("feedback")
_FIRST_TOUCH = _literal(FIRST_TOUCH)
_UNASSIGNED = _literal(LEAD_UNASSIGNED)
_HANDED_OFF = _literal(LEAD_HANDED_OFF)


def _window(column: sa.ColumnElement[Any], start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(column >= start, column < end)


async def _rows(conn: AsyncConnection, query: sa.Select[Any]) -> list[Row]:
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def leads_created(
    conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None
) -> list[Row]:
    """Leads created in the window, per group: ``key``, ``leads``."""
    key = _key(_pick(group_by, queue=leads.c.queue, rep=leads.c.owner, source=leads.c.source))
    query = sa.select(key, sa.func.count().label("leads")).where(_window(leads.c.created_at, start, end))
    return await _rows(conn, query.group_by(key))


def _entered(stage: str) -> sa.ColumnElement[bool]:
    """A decision that moved a lead into ``stage`` (mql: into mql or beyond)."""
    if stage == "mql":
        return sa.and_(decisions.c.from_stage.not_in(_QUALIFIED), decisions.c.to_stage.in_(_QUALIFIED))
    return sa.and_(decisions.c.from_stage != "sql", decisions.c.to_stage == "sql")


async def stage_entries(
    conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None
) -> list[Row]:
    """Per group: ``mqls``, ``sqls`` entered in the window, and of those, ``mql_to_sql`` (the lead has
    reached SQL since) and ``sql_converted`` (its feedback says converted since)."""
    key = _key(_pick(group_by, queue=decisions.c.queue, rep=decisions.c.owner, source=leads.c.source))
    later = decisions.alias("later")
    reached_sql = sa.exists().where(
        later.c.lead_id == decisions.c.lead_id, later.c.id >= decisions.c.id, later.c.to_stage == "sql"
    )
    converted = sa.exists().where(
        lead_events.c.lead_id == decisions.c.lead_id,
        lead_events.c.kind == "feedback",
        lead_events.c.received_at >= decisions.c.decided_at,
        lead_events.c.payload["outcome"].as_string() == "converted",
    )
    mql, sql = _entered("mql"), _entered("sql")
    query = (
        sa.select(
            key,
            sa.func.count().filter(mql).label("mqls"),
            sa.func.count().filter(sql).label("sqls"),
            sa.func.count().filter(sa.and_(mql, reached_sql)).label("mql_to_sql"),
            sa.func.count().filter(sa.and_(sql, converted)).label("sql_converted"),
        )
        .select_from(decisions.join(leads, leads.c.id == decisions.c.lead_id))
        .where(_window(decisions.c.decided_at, start, end), sa.or_(mql, sql))
        .group_by(key)
    )
    return await _rows(conn, query)


_FACT_COLUMNS = (
    leads.c.id, leads.c.profile, leads.c.activity_counts, leads.c.engagement_weights,
    leads.c.engagement_as_of, leads.c.last_activity_at, leads.c.created_at,
)  # fmt: skip


async def lead_fact_rows(conn: AsyncConnection, lead_ids: Sequence[uuid.UUID]) -> list[Row]:
    """What rules read of these leads (to place them in goal segments)."""
    rows: list[Row] = []
    for chunk in chunks(sorted(set(lead_ids))):
        rows += await _rows(conn, sa.select(*_FACT_COLUMNS).where(leads.c.id.in_(chunk)))
    return rows


async def mql_leads(conn: AsyncConnection, start: datetime, end: datetime) -> list[Row]:
    """Each MQL entry of the window with its lead's profile and engagement (for goal segments)."""
    query = (
        sa.select(*_FACT_COLUMNS)
        .select_from(decisions.join(leads, leads.c.id == decisions.c.lead_id))
        .where(_window(decisions.c.decided_at, start, end), _entered("mql"))
    )
    return await _rows(conn, query)


async def handoffs(conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None) -> list[Row]:
    """Handoffs in the window (first-touch clocks started): ``key``, ``queue``, ``rep_id``, ``lead_id``
    and the lead's ``profile``."""
    key = _clock_key(group_by)
    query = (
        sa.select(key, sla_clocks.c.queue, sla_clocks.c.rep_id, sla_clocks.c.lead_id, leads.c.profile)
        .select_from(_CLOCKS)
        .where(_window(sla_clocks.c.started_at, start, end), sla_clocks.c.obligation == _FIRST_TOUCH)
    )
    return await _rows(conn, query)


async def feedback(conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None) -> list[Row]:
    """Feedback received in the window per group, outcome and rejection reason: ``count``."""
    key = _key(_pick(group_by, queue=leads.c.queue, rep=leads.c.owner, source=leads.c.source))
    outcome = lead_events.c.payload["outcome"].as_string().label("outcome")
    reason = lead_events.c.payload["reason"].as_string().label("reason")
    query = (
        sa.select(key, outcome, reason, sa.func.count().label("count"))
        .select_from(lead_events.join(leads, leads.c.id == lead_events.c.lead_id))
        .where(_window(lead_events.c.received_at, start, end), lead_events.c.kind == _FEEDBACK)
        .group_by(key, outcome, reason)
    )
    return await _rows(conn, query)


async def closed_clocks(
    conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None
) -> list[Row]:
    """Clocks met or breached in the window, per group, obligation and state: ``count`` and the
    attempts made and required."""
    key = _clock_key(group_by)
    query = (
        sa.select(
            key,
            sla_clocks.c.obligation,
            sla_clocks.c.state,
            sa.func.count().label("count"),
            sa.func.sum(sla_clocks.c.attempts_made).label("attempts_made"),
            sa.func.sum(sla_clocks.c.attempts_required).label("attempts_required"),
        )
        .select_from(_CLOCKS)
        .where(_window(sla_clocks.c.closed_at, start, end), sla_clocks.c.state.in_(("met", "breached")))
        .group_by(key, sla_clocks.c.obligation, sla_clocks.c.state)
    )
    return await _rows(conn, query)


async def breaches(conn: AsyncConnection, start: datetime, end: datetime) -> list[Row]:
    """Clocks breached in the window: ``queue``, ``closed_at``."""
    query = sa.select(sla_clocks.c.queue, sla_clocks.c.closed_at).where(
        _window(sla_clocks.c.closed_at, start, end), sla_clocks.c.state == "breached"
    )
    return await _rows(conn, query)


async def first_touches(
    conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None
) -> list[Row]:
    """First-touch clocks fulfilled in the window (on time or late), with what timing them needs."""
    key = _clock_key(group_by)
    query = (
        sa.select(
            key,
            sla_clocks.c.started_at,
            sla_clocks.c.fulfilled_at,
            sla_clocks.c.calendar,
            sla_clocks.c.paused_seconds,
        )
        .select_from(_CLOCKS)
        .where(_window(sla_clocks.c.fulfilled_at, start, end), sla_clocks.c.obligation == "first_touch")
    )
    return await _rows(conn, query)


async def unassigned_events(conn: AsyncConnection, start: datetime, end: datetime) -> list[Row]:
    """``lead.unassigned`` events created in the window: ``lead_id`` (the key) and ``at``."""
    query = sa.select(outbox.c.key.label("lead_id"), outbox.c.created_at.label("at")).where(
        outbox.c.type == _UNASSIGNED, _window(outbox.c.created_at, start, end)
    )
    return await _rows(conn, query.order_by(outbox.c.id))


async def handoffs_after(conn: AsyncConnection, lead_ids: Sequence[str], after: datetime) -> list[Row]:
    """``lead.handed_off`` events of these leads from ``after`` on (to end their unassigned waits)."""
    rows: list[Row] = []
    for chunk in chunks(sorted(set(lead_ids))):
        query = sa.select(outbox.c.key.label("lead_id"), outbox.c.created_at.label("at")).where(
            outbox.c.type == _HANDED_OFF, outbox.c.created_at >= after, outbox.c.key.in_(chunk)
        )
        rows += await _rows(conn, query)
    return rows


async def warnings(conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None) -> list[Row]:
    """Clocks warned in the window per group and obligation: ``count``."""
    key = _clock_key(group_by)
    query = (
        sa.select(key, sla_clocks.c.obligation, sa.func.count().label("count"))
        .select_from(_CLOCKS)
        .where(_window(sla_clocks.c.warned_at, start, end))
        .group_by(key, sla_clocks.c.obligation)
    )
    return await _rows(conn, query)


async def reassignments(
    conn: AsyncConnection, start: datetime, end: datetime, group_by: str | None
) -> list[Row]:
    """Decisions of the window that gave a routed lead to another rep of the same queue: ``count``."""
    previous = sa.select(
        decisions.c.lead_id, decisions.c.decided_at, decisions.c.queue, decisions.c.owner,
        sa.func.lag(decisions.c.owner).over(partition_by=decisions.c.lead_id, order_by=decisions.c.id)
        .label("previous_owner"),
        sa.func.lag(decisions.c.queue).over(partition_by=decisions.c.lead_id, order_by=decisions.c.id)
        .label("previous_queue"),
    ).where(decisions.c.lead_id.in_(
        sa.select(decisions.c.lead_id).where(_window(decisions.c.decided_at, start, end))
    )).subquery()  # fmt: skip
    key = _key(_pick(group_by, queue=previous.c.queue, rep=previous.c.owner, source=leads.c.source))
    query = (
        sa.select(key, sa.func.count().label("count"))
        .select_from(previous.join(leads, leads.c.id == previous.c.lead_id))
        .where(
            _window(previous.c.decided_at, start, end),
            previous.c.owner.is_not(None),
            previous.c.previous_owner.is_not(None),
            previous.c.owner != previous.c.previous_owner,
            previous.c.queue == previous.c.previous_queue,
        )
        .group_by(key)
    )
    return await _rows(conn, query)


async def lead_groups(conn: AsyncConnection, lead_ids: Sequence[str], group_by: str | None) -> dict[str, str]:
    """The group key of each lead (its current queue, owner or source)."""
    if group_by is None:
        return dict.fromkeys(lead_ids, ALL)
    if group_by == LEAD:
        return {lead_id: lead_id for lead_id in lead_ids}
    column = _pick(group_by, queue=leads.c.queue, rep=leads.c.owner, source=leads.c.source)
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(lead_ids))):
        query = sa.select(leads.c.id, _key(column)).where(leads.c.id.in_([uuid.UUID(i) for i in chunk]))
        found.update({str(row["id"]): row["key"] for row in await _rows(conn, query)})
    return found
