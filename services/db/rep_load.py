"""Queues, memberships and rep load: the state fair assignment reads and updates.

Transactions belong to ``UnitOfWork``. Ingest transactions lock, in this order and always in
primary-key order, the leads they change, the memberships of the queues they assign in, then the
rep states they change: replicas take turns instead of losing an update or deadlocking.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.db.bulk import STATEMENTS, BulkSelect
from services.db.tables import queues, rep_states, reps

Row = dict[str, Any]
Roster = dict[str, tuple[str, list[tuple[str, str]]]]  # queue -> (description, [(rep id, name)])
_STATE_COLUMNS = ("open_leads", "new_today", "new_on", "updated_at")


@functools.cache
def _memberships(dialect: str) -> BulkSelect:
    return BulkSelect(reps, dialect, "queue_id", lock=True, columns=("queue_id", "id", "credit"))


@functools.cache
def _queues(dialect: str) -> BulkSelect:
    return BulkSelect(queues, dialect, "id", columns=("id", "paused"))


@functools.cache
def _states(dialect: str) -> BulkSelect:
    return BulkSelect(rep_states, dialect, "rep_id", lock=True)


async def lock_credits(conn: AsyncConnection, queue_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    """The credit of every membership of ``queue_ids`` as ``(queue, rep) -> credit`` (rows locked)."""
    rows = await _memberships(conn.dialect.name).fetch(conn, sorted(set(queue_ids)))
    return {(row["queue_id"], row["id"]): int(row["credit"]) for row in rows}


async def paused_queues(conn: AsyncConnection, queue_ids: Iterable[str]) -> set[str]:
    """Which of ``queue_ids`` are paused (their leads wait unassigned)."""
    rows = await _queues(conn.dialect.name).fetch(conn, sorted(set(queue_ids)))
    return {row["id"] for row in rows if row["paused"]}


async def set_queue_paused(
    conn: AsyncConnection, queue_id: str, paused: bool, reason: str | None, now: datetime
) -> bool:
    """Pause or resume a queue; False if there is no such queue."""
    result = await conn.execute(
        queues.update()
        .where(queues.c.id == queue_id)
        .values(paused=paused, paused_reason=reason if paused else None, updated_at=now)
    )
    return bool(result.rowcount)


async def list_queues(conn: AsyncConnection) -> list[Row]:
    """Every queue with its pause state, by id."""
    query = sa.select(queues.c.id, queues.c.description, queues.c.paused, queues.c.paused_reason).order_by(
        queues.c.id
    )
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def lock_rep_states(conn: AsyncConnection, rep_ids: Iterable[str]) -> dict[str, Row]:
    """The state rows of ``rep_ids`` (locked); reps without one are missing from the result."""
    rows = await _states(conn.dialect.name).fetch(conn, sorted(set(rep_ids)))
    return {row["rep_id"]: row for row in rows}


async def save_credits(conn: AsyncConnection, credits: dict[tuple[str, str], int]) -> None:
    """Store membership credits (``(queue, rep) -> credit``) in one statement."""
    rows = [{"queue_id": q, "id": r, "credit": credit} for (q, r), credit in sorted(credits.items())]
    await STATEMENTS.get(reps, ("credit",), conn.dialect.name, update_key=("queue_id", "id")).execute(
        conn, rows
    )


async def save_rep_states(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """Store open/new counts of existing rep state rows in one round trip."""
    await STATEMENTS.get(rep_states, _STATE_COLUMNS, conn.dialect.name, update_key="rep_id").execute(
        conn, sorted(rows, key=lambda row: str(row["rep_id"]))
    )


async def ensure_rep_states(conn: AsyncConnection, rep_ids: Sequence[str], now: datetime) -> None:
    """Create empty state rows for reps that have none (normally made when the roster syncs); a row
    another transaction created meanwhile is kept."""
    if rep_ids:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        await conn.execute(
            insert(rep_states).on_conflict_do_nothing(index_elements=[rep_states.c.rep_id]),
            [{"rep_id": rep_id, "open_leads": 0, "new_today": 0, "updated_at": now} for rep_id in rep_ids],
        )


async def set_out_of_office(
    conn: AsyncConnection, rep_id: str, until: datetime | None, reason: str | None, now: datetime
) -> bool:
    """Mark a rep out of office until ``until`` (``None``: available again); False if unknown rep."""
    result = await conn.execute(
        rep_states.update()
        .where(rep_states.c.rep_id == rep_id)
        .values(out_of_office_until=until, out_of_office_reason=reason, updated_at=now)
    )
    return bool(result.rowcount)


async def sync_roster(conn: AsyncConnection, roster: Roster, now: datetime) -> None:
    """Make queues and memberships match an agreement; credits and rep load survive.

    Memberships the agreement dropped stay, inactive, so the leads and clocks that name them keep
    their references; every rep gets a state row.
    """
    existing_queues = set((await conn.execute(sa.select(queues.c.id))).scalars())
    existing = {(row.queue_id, row.id) for row in (await conn.execute(sa.select(reps.c.queue_id, reps.c.id)))}
    wanted: set[tuple[str, str]] = set()
    for queue_id, (description, members) in sorted(roster.items()):
        values = {"description": description, "updated_at": now}
        if queue_id in existing_queues:
            await conn.execute(queues.update().where(queues.c.id == queue_id).values(**values))
        else:
            await conn.execute(queues.insert().values(id=queue_id, **values))
        for position, (rep_id, name) in enumerate(members):
            wanted.add((queue_id, rep_id))
            fields = {"name": name, "position": position, "active": True}
            if (queue_id, rep_id) in existing:
                await conn.execute(
                    reps.update().where(reps.c.queue_id == queue_id, reps.c.id == rep_id).values(**fields)
                )
            else:
                await conn.execute(reps.insert().values(queue_id=queue_id, id=rep_id, credit=0, **fields))
    for queue_id, rep_id in sorted(existing - wanted):
        await conn.execute(
            reps.update().where(reps.c.queue_id == queue_id, reps.c.id == rep_id).values(active=False)
        )
    known = set((await conn.execute(sa.select(rep_states.c.rep_id))).scalars())
    await ensure_rep_states(conn, sorted({rep_id for _, rep_id in wanted} - known), now)


async def list_reps(conn: AsyncConnection, rep_id: str | None = None) -> list[Row]:
    """Rep states with the queues each rep is an active member of, by rep id."""
    query = sa.select(rep_states).order_by(rep_states.c.rep_id)
    if rep_id is not None:
        query = query.where(rep_states.c.rep_id == rep_id)
    rows = [dict(row) for row in (await conn.execute(query)).mappings()]
    memberships = (
        sa.select(reps.c.id, reps.c.queue_id).where(reps.c.active.is_(True)).order_by(reps.c.queue_id)
    )
    queues_of: dict[str, list[str]] = {}
    for member in await conn.execute(memberships):
        queues_of.setdefault(member.id, []).append(member.queue_id)
    return [{**row, "queues": queues_of.get(row["rep_id"], [])} for row in rows]
