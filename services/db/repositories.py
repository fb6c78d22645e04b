"""Queries and bulk writes on an open connection. Transactions belong to ``UnitOfWork``, not here."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from router.sla import OBLIGATIONS
from services.db.bulk import STATEMENTS, BulkSelect, chunks, fetch_driver, insert_columns
from services.db.clocks import LIVE
from services.db.tables import decisions, lead_events, leads, outbox, sla_clocks

Row = dict[str, Any]


@functools.cache
def _select(name: str, dialect: str, *, lock: bool = False) -> BulkSelect:
    """The hot-path lookups, one ``BulkSelect`` each per dialect.

    In ingest transactions leads are read to be changed (``lock``): on PostgreSQL they are locked, in
    id order, so two replicas changing one lead take turns instead of losing an update (SQLite:
    BEGIN IMMEDIATE).
    """
    if name == "events":
        return BulkSelect(
            lead_events, dialect, "event_key", columns=("event_key", "request_hash", "response")
        )
    if name == "leads_by_external_id":
        return BulkSelect(leads, dialect, "external_id", ("source",), lock=lock)
    if name == "leads_by_email":
        return BulkSelect(leads, dialect, "email", lock=lock)
    return BulkSelect(leads, dialect, "id", lock=lock)


# --- idempotency ---------------------------------------------------------------------------------


async def find_events(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Row]:
    """Already recorded inbound events by key: their request hash and first response."""
    found: dict[str, Row] = {}
    select = _select("events", conn.dialect.name)
    for chunk in chunks(list(set(keys))):
        for row in await select.fetch(conn, chunk):
            found[row["event_key"]] = row
    return found


# --- leads ---------------------------------------------------------------------------------------


async def leads_by_external_id(
    conn: AsyncConnection, pairs: Sequence[tuple[str, str]], *, lock: bool = False
) -> list[Row]:
    """Leads matching any (source, external_id) pair.

    One ``source = ? AND external_id IN (...)`` query per source: it uses the unique index on both
    databases (SQLite plans a row-value ``IN`` as a full table scan).
    """
    by_source: dict[str, set[str]] = {}
    for source, external_id in pairs:
        by_source.setdefault(source, set()).add(external_id)
    rows: list[Row] = []
    select = _select("leads_by_external_id", conn.dialect.name, lock=lock)
    for source, external_ids in by_source.items():
        for chunk in chunks(sorted(external_ids)):
            rows += await select.fetch(conn, chunk, source)
    return rows


async def leads_by_email(conn: AsyncConnection, emails: Sequence[str], *, lock: bool = False) -> list[Row]:
    """Leads with the given (normalised) e-mails, oldest first (``lock``: FOR UPDATE on PostgreSQL)."""
    rows: list[Row] = []
    select = _select("leads_by_email", conn.dialect.name, lock=lock)
    for chunk in chunks(sorted(set(emails))):
        rows += await select.fetch(conn, chunk)
    return sorted(rows, key=lambda row: (row["created_at"], row["id"]))


async def lock_emails(conn: AsyncConnection, emails: Sequence[str]) -> None:
    """On PostgreSQL, transaction-scoped advisory locks on these e-mails (in one order, so replicas
    take turns on the same person); SQLite write transactions are serialised already."""
    if conn.dialect.name != "postgresql" or not emails:
        return
    keys = sorted(
        {int.from_bytes(hashlib.sha256(email.encode()).digest()[:8], "big", signed=True) for email in emails}
    )
    await fetch_driver(conn, _LOCK_EMAILS, [keys])


_LOCK_EMAILS = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k"


async def leads_by_id(conn: AsyncConnection, ids: Sequence[uuid.UUID], *, lock: bool = False) -> list[Row]:
    """Leads with the given ids (``lock``: FOR UPDATE on PostgreSQL)."""
    rows: list[Row] = []
    select = _select("leads_by_id", conn.dialect.name, lock=lock)
    for chunk in chunks(sorted(set(ids))):
        rows += await select.fetch(conn, chunk)
    return rows


_LEAD_MUTABLE = (
    "email", "company", "profile", "activity_counts", "stage", "fit_score", "engagement_score", "queue",
    "owner", "agreement_version", "last_activity_at", "updated_at", "engagement_weights", "engagement_as_of",
    "closed_at", "recycled_count", "account_key",
)  # fmt: skip


async def save_leads(conn: AsyncConnection, new: list[Row], changed: list[Row]) -> None:
    """Insert new leads and update changed ones, each in one round trip."""
    dialect = conn.dialect.name
    await STATEMENTS.get(leads, insert_columns(leads), dialect).execute(conn, new)
    await STATEMENTS.get(leads, _LEAD_MUTABLE, dialect, update_key="id").execute(conn, changed)


async def insert_rows(conn: AsyncConnection, table: sa.Table, rows: list[Row]) -> None:
    """Insert many rows into ``table`` in one round trip."""
    await STATEMENTS.get(table, insert_columns(table), conn.dialect.name).execute(conn, rows)


async def insert_events(conn: AsyncConnection, rows: list[Row]) -> None:
    """Record inbound events (with their responses, for idempotent replay)."""
    await insert_rows(conn, lead_events, rows)


async def insert_decisions(conn: AsyncConnection, rows: list[Row]) -> None:
    """Record qualification/routing decisions with their explanations."""
    await insert_rows(conn, decisions, rows)


async def insert_outbox(conn: AsyncConnection, rows: list[Row]) -> None:
    """Append events to the outbox (published later by the relay)."""
    await insert_rows(conn, outbox, rows)


# A handoff's clocks in the agreement's order: first touch, attempts, decision.
_OBLIGATION_ORDER = sa.case(
    {name: rank for rank, name in enumerate(OBLIGATIONS)},
    value=sla_clocks.c.obligation,
    else_=len(OBLIGATIONS),
)


# --- leads changing hands (their open clocks follow) -------------------------------------------


async def move_leads(conn: AsyncConnection, moves: list[Row]) -> None:
    """Give leads a queue and an owner (None: it waits there); their open clocks follow them. Each
    move is ``{"b_id", "b_queue", "b_owner", "b_at"}``; all go in one statement per table."""
    if not moves:
        return
    await conn.execute(
        leads.update()
        .where(leads.c.id == sa.bindparam("b_id"))
        .values(
            queue=sa.bindparam("b_queue"), owner=sa.bindparam("b_owner"), updated_at=sa.bindparam("b_at")
        ),
        moves,
    )
    await conn.execute(
        sla_clocks.update()
        .where(sla_clocks.c.lead_id == sa.bindparam("b_id"), LIVE)
        .values(queue=sa.bindparam("b_queue"), rep_id=sa.bindparam("b_owner")),
        moves,
    )


# --- outbox ------------------------------------------------------------------------------------


async def unpublished(conn: AsyncConnection, limit: int) -> list[Row]:
    """The oldest unpublished outbox rows, in write order, each event as its stored JSON text
    (``event_json``: sent as it is, never decoded and encoded again)."""
    event_json = sa.cast(outbox.c.event, sa.Text).label("event_json")
    query = (
        sa.select(outbox.c.id, outbox.c.topic, outbox.c.key, event_json, outbox.c.created_at)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def mark_published(conn: AsyncConnection, ids: Sequence[int], at: datetime) -> None:
    """Record that outbox rows reached the broker."""
    for chunk in chunks(list(ids)):
        await conn.execute(outbox.update().where(outbox.c.id.in_(chunk)).values(published_at=at))


async def count_unpublished(conn: AsyncConnection) -> int:
    """How many outbox rows wait for the broker."""
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    return int((await conn.execute(query)).scalar_one())


async def events_after(conn: AsyncConnection, cursor: int, limit: int) -> list[Row]:
    """Outbox events with id > ``cursor`` (the ``/v1/events`` feed), published or not."""
    query = (
        sa.select(outbox.c.id, outbox.c.event).where(outbox.c.id > cursor).order_by(outbox.c.id).limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --- reads ---------------------------------------------------------------------------------------


async def lead_detail(conn: AsyncConnection, lead_id: uuid.UUID) -> Row | None:
    """A lead with its latest decision, its clocks and its inbound events (oldest first)."""
    lead = (await conn.execute(sa.select(leads).where(leads.c.id == lead_id))).mappings().first()
    if lead is None:
        return None
    decision = (
        (
            await conn.execute(
                sa.select(decisions.c.explanation)
                .where(decisions.c.lead_id == lead_id)
                .order_by(decisions.c.id.desc())
                .limit(1)
            )
        )
        .scalars()
        .first()
    )
    clocks = (
        await conn.execute(
            sa.select(sla_clocks)
            .where(sla_clocks.c.lead_id == lead_id)
            .order_by(sla_clocks.c.started_at, _OBLIGATION_ORDER, sla_clocks.c.id)
        )
    ).mappings()
    events = (
        await conn.execute(
            sa.select(
                lead_events.c.kind, lead_events.c.event_key, lead_events.c.received_at, lead_events.c.payload
            )
            .where(lead_events.c.lead_id == lead_id)
            .order_by(lead_events.c.id)
        )
    ).mappings()
    return {
        **lead,
        "explanation": decision or [],
        "clocks": [dict(c) for c in clocks],
        "timeline": [dict(e) for e in events],
    }


async def account_owners(conn: AsyncConnection, keys: Sequence[str]) -> dict[tuple[str, str], str]:
    """``(account key, queue) -> owner``: the owner of each account's most recently updated lead per queue."""
    owners: dict[tuple[str, str], str] = {}
    for chunk in chunks(sorted(set(keys))):
        query = (
            sa.select(leads.c.account_key, leads.c.queue, leads.c.owner)
            .where(leads.c.account_key.in_(chunk), leads.c.owner.is_not(None), leads.c.queue.is_not(None))
            .order_by(leads.c.updated_at.desc())
        )
        for row in await conn.execute(query):
            owners.setdefault((row.account_key, row.queue), row.owner)
    return owners


# --- leads waiting for a rep ---------------------------------------------------------------------


async def lock_waiting_leads(conn: AsyncConnection, limit: int) -> list[Row]:
    """Up to ``limit`` open leads routed to a queue but not assigned, oldest first (locked; on
    PostgreSQL SKIP LOCKED, so replicas take disjoint ones)."""
    query = (
        sa.select(leads)
        .where(leads.c.owner.is_(None), leads.c.queue.is_not(None), leads.c.closed_at.is_(None))
        .order_by(leads.c.created_at, leads.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def reassign_lead(
    conn: AsyncConnection, lead_id: uuid.UUID, rep_id: str, now: datetime
) -> datetime | None:
    """Give a lead another owner, with its open clocks; returns its first-touch due time."""
    await conn.execute(leads.update().where(leads.c.id == lead_id).values(owner=rep_id, updated_at=now))
    await conn.execute(sla_clocks.update().where(sla_clocks.c.lead_id == lead_id, LIVE).values(rep_id=rep_id))
    return await _first_touch_due(conn, lead_id)


async def _first_touch_due(conn: AsyncConnection, lead_id: uuid.UUID) -> datetime | None:
    query = (
        sa.select(sla_clocks.c.due_at)
        .where(sla_clocks.c.lead_id == lead_id, sla_clocks.c.obligation == "first_touch")
        .order_by(sla_clocks.c.started_at.desc())
        .limit(1)
    )
    due: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return due


async def assign_waiting(
    conn: AsyncConnection, lead_id: uuid.UUID, rep_id: str, now: datetime
) -> datetime | None:
    """Give a waiting lead its owner, and its first-touch clock its rep while still open; returns that
    clock's due time (also when it already breached while the lead waited)."""
    await conn.execute(leads.update().where(leads.c.id == lead_id).values(owner=rep_id, updated_at=now))
    await conn.execute(
        sla_clocks.update()
        .where(sla_clocks.c.lead_id == lead_id, LIVE, sla_clocks.c.rep_id.is_(None))
        .values(rep_id=rep_id)
    )
    return await _first_touch_due(conn, lead_id)
