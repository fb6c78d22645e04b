"""Queries and writes of SLA clocks and their pending escalations, on an open connection (transactions
belong to ``UnitOfWork``).

The clock worker's claim and marks go to the driver directly (``services.db.bulk``): a breach costs a
row read, a row update and an outbox insert, and SQLAlchemy's per-row decoding of six timestamps was
most of the claim's time (25 ms per 1,000 clocks on SQLite).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from router.sla import FIRST_TOUCH, LIVE_STATES
from services.db.bulk import (
    STATEMENTS,
    BulkSelect,
    RowDecoder,
    chunks,
    column_encoder,
    fetch_driver,
    insert_columns,
)
from services.db.tables import pending_escalations, sla_clocks

Row = dict[str, Any]

# ``state || ''`` keeps the "still open" guard off the (state, check_at) index: without statistics,
# SQLite's planner takes ``state = 'open'`` for a selective index term and scanned every open clock
# (measured: 267 ms to close 1,000 of 1,000,000 open clocks, instead of a primary-key lookup each).
# Open or paused: not yet met, breached or cancelled (no IN list: it must serve executemany too).
LIVE = sa.or_(*((sla_clocks.c.state + "") == state for state in LIVE_STATES))
_BREACHED = (sla_clocks.c.state + "") == "breached"
# The columns feedback changes (``save_clocks``).
_FEEDBACK_COLUMNS = (
    "state", "closed_at", "due_at", "warn_at", "check_at", "paused_at", "paused_seconds", "attempts_made",
    "fulfilled_at",
)  # fmt: skip


async def insert_clocks(conn: AsyncConnection, rows: list[Row]) -> None:
    """Start SLA clocks."""
    await STATEMENTS.get(sla_clocks, insert_columns(sla_clocks), conn.dialect.name).execute(conn, rows)


async def feedback_clocks_of(conn: AsyncConnection, lead_ids: Sequence[uuid.UUID]) -> list[Row]:
    """The clocks feedback on the given leads can change: live ones (open, paused), and breached
    first-touch clocks whose late touch has not come yet. Locked on PostgreSQL (in id order, after the
    leads): the clock worker skips them rather than breaching one that is being met."""
    rows: list[Row] = []
    late_touch = sa.and_(
        sla_clocks.c.obligation == FIRST_TOUCH, _BREACHED, sla_clocks.c.fulfilled_at.is_(None)
    )
    for chunk in chunks(sorted(set(lead_ids))):
        query = (
            sa.select(sla_clocks)
            .where(sla_clocks.c.lead_id.in_(chunk), sa.or_(LIVE, late_touch))
            .order_by(sla_clocks.c.id)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows.extend(dict(r) for r in (await conn.execute(query)).mappings())
    return rows


async def cancel_live_clocks(conn: AsyncConnection, lead_ids: Sequence[uuid.UUID], at: datetime) -> None:
    """The leads left their queue: their live clocks end as ``cancelled`` at ``at``."""
    if lead_ids:
        statement = (
            sla_clocks.update()
            .where(sla_clocks.c.lead_id == sa.bindparam("b_id"), LIVE)
            .values(state="cancelled", closed_at=at, paused_at=None)
        )
        await conn.execute(statement, [{"b_id": lead_id} for lead_id in lead_ids])


async def save_clocks(conn: AsyncConnection, clocks: list[Row]) -> None:
    """Write what feedback changed of ``clocks`` (read with ``feedback_clocks_of`` in this transaction)."""
    await STATEMENTS.get(sla_clocks, _FEEDBACK_COLUMNS, conn.dialect.name, update_key="id").execute(
        conn, clocks
    )


# What an escalation needs of a breached clock.
_ESCALATED = ("id", "lead_id", "obligation", "queue", "rep_id", "due_at")
# What the worker's events and escalations need of a claimed clock.
_CLAIMED = (
    "id", "lead_id", "obligation", "queue", "rep_id", "started_at", "due_at", "warn_at", "calendar",
    "agreement_version", "paused_seconds", "attempts_made", "attempts_required",
)  # fmt: skip


@functools.cache
def _claim(dialect: str, breach: bool) -> tuple[str, RowDecoder]:
    return claim_sql(dialect, breach=breach), RowDecoder(sla_clocks, _CLAIMED, dialect)


def claim_sql(dialect: str, *, breach: bool) -> str:
    """The one statement that picks due clocks and marks them (breached, or warned), returning them:
    ``UPDATE ... WHERE id IN (SELECT ... LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING``; its parameters
    are the time now and the batch size."""
    now, limit = ("$1", "$2") if dialect == "postgresql" else ("?1", "?2")
    mark = f"state = 'breached', closed_at = {now}" if breach else f"warned_at = {now}, check_at = due_at"
    due = f"due_at <= {now}" if breach else f"due_at > {now}"
    lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    return (
        f"UPDATE sla_clocks SET {mark} WHERE id IN (SELECT id FROM sla_clocks"  # noqa: S608 - our schema
        f" WHERE state = 'open' AND check_at <= {now} AND {due} ORDER BY check_at LIMIT {limit}{lock})"
        f" RETURNING {', '.join(_CLAIMED)}"
    )


async def claim_due_clocks(conn: AsyncConnection, now: datetime, limit: int) -> tuple[list[Row], list[Row]]:
    """Up to ``limit`` open clocks due by ``now``, marked breached, and up to ``limit`` past their
    warning time but not due, marked warned (their check time moves to their due time). Returns
    (warned, breached), each in due order.

    Each clock warns and breaches once: a clock leaves the candidates when it is breached (state) or
    warned (check time). On PostgreSQL the candidates are locked with SKIP LOCKED, so concurrent
    workers take disjoint batches (SQLite: the write transaction holds the database). A clock found
    already past its due time is breached without a warning.
    """
    dialect = conn.dialect.name
    encoded_now = column_encoder(sla_clocks.c.check_at, dialect)(now)
    claimed: list[list[Row]] = []
    for breach in (False, True):
        sql, decode = _claim(dialect, breach)
        rows = decode(await fetch_driver(conn, sql, (encoded_now, limit)))
        for row in rows:
            if breach:
                row.update(state="breached", closed_at=now)
            else:
                row.update(warned_at=now, check_at=row["due_at"])
        claimed.append(sorted(rows, key=lambda row: (row["due_at"], row["id"])))
    return claimed[0], claimed[1]


async def queue_escalations(conn: AsyncConnection, clocks: list[Row]) -> None:
    """Note that the escalation of these (just breached) clocks is still to run."""
    await STATEMENTS.get(pending_escalations, ("clock_id", "due_at"), conn.dialect.name).execute(
        conn, [{"clock_id": clock["id"], "due_at": clock["due_at"]} for clock in clocks]
    )


@functools.cache
def _clocks_by_id(dialect: str) -> BulkSelect:
    return BulkSelect(sla_clocks, dialect, "id", columns=_ESCALATED)


async def claim_pending_escalations(conn: AsyncConnection, limit: int) -> list[Row]:
    """Up to ``limit`` breached clocks whose escalation is pending, earliest due first; their pending
    marks are deleted here, so the escalation the caller runs in this transaction is the only one. On
    PostgreSQL the marks are taken with SKIP LOCKED, so concurrent workers take disjoint ones."""
    query = sa.select(pending_escalations.c.clock_id).order_by(pending_escalations.c.due_at).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list((await conn.execute(query)).scalars())
    if not ids:
        return []
    await conn.execute(pending_escalations.delete().where(pending_escalations.c.clock_id.in_(ids)))
    clocks = await _clocks_by_id(conn.dialect.name).fetch(conn, ids)
    return sorted(clocks, key=lambda clock: (clock["due_at"], clock["id"]))


async def count_pending_escalations(conn: AsyncConnection) -> int:
    """How many breaches wait for their escalation."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(pending_escalations))).scalar_one())


async def breach_numbers(conn: AsyncConnection, clocks: Sequence[Row]) -> dict[uuid.UUID, int]:
    """For each of ``clocks`` (breached), which breach of its obligation on its lead it is: 1 for the
    lead's earliest-due breached clock of that obligation, 2 for the next, and so on (ties by id). The
    same whenever it is asked, so escalations that run late or out of order count the same."""
    wanted = {(clock["lead_id"], clock["obligation"]) for clock in clocks}
    breached: dict[tuple[uuid.UUID, str], list[tuple[datetime, uuid.UUID]]] = {}
    for chunk in chunks(list({lead_id for lead_id, _ in wanted})):
        # Looked up per lead, not grouped: for a GROUP BY SQLite's planner walked the whole lead_id
        # index (3 s per 500 breaches at 1M clocks).
        query = sa.select(
            sla_clocks.c.lead_id, sla_clocks.c.obligation, sla_clocks.c.due_at, sla_clocks.c.id
        ).where(sla_clocks.c.lead_id.in_(chunk), _BREACHED)
        for lead_id, obligation, due, clock_id in (await conn.execute(query)).all():
            if (lead_id, obligation) in wanted:
                breached.setdefault((lead_id, obligation), []).append((due, clock_id))
    numbers: dict[uuid.UUID, int] = {}
    for clock in clocks:
        earlier = breached.get((clock["lead_id"], clock["obligation"]), [])
        numbers[clock["id"]] = sum(1 for due_id in earlier if due_id <= (clock["due_at"], clock["id"]))
    return numbers


async def count_open_clocks(conn: AsyncConnection) -> dict[str, int]:
    """Live clocks by state: ``open`` (not warned), ``warned`` and ``paused``."""
    warned = sla_clocks.c.warned_at.is_not(None)
    query = (
        sa.select(sla_clocks.c.state, warned, sa.func.count())
        .where(sla_clocks.c.state.in_(LIVE_STATES))
        .group_by(sla_clocks.c.state, warned)
    )
    counts: dict[str, int] = {}
    for state, is_warned, count in (await conn.execute(query)).all():
        key = "paused" if state == "paused" else ("warned" if is_warned else "open")
        counts[key] = counts.get(key, 0) + count
    return counts


async def next_check_at(conn: AsyncConnection) -> datetime | None:
    """The earliest time an open clock warns or falls due."""
    query = sa.select(sa.func.min(sla_clocks.c.check_at)).where(sla_clocks.c.state == "open")
    value: datetime | None = (await conn.execute(query)).scalar_one_or_none()  # min() keeps UTCDateTime
    return value
