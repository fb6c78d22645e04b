"""Webhook deliveries (for idempotent redelivery) and CRM records still waiting for an e-mail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.db.bulk import chunks
from services.db.repositories import insert_rows
from services.db.tables import crm_contacts, webhook_deliveries

Row = dict[str, Any]
Pair = tuple[str, str]


async def find_deliveries(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Row]:
    """Deliveries already applied, by key: their request hash and first response."""
    found: dict[str, Row] = {}
    for chunk in chunks(sorted(set(keys))):
        table = webhook_deliveries
        query = sa.select(table.c.delivery_key, table.c.request_hash, table.c.response).where(
            table.c.delivery_key.in_(chunk)
        )
        for row in (await conn.execute(query)).mappings():
            found[row["delivery_key"]] = dict(row)
    return found


async def insert_deliveries(conn: AsyncConnection, rows: list[Row]) -> None:
    """Record applied deliveries with their responses."""
    await insert_rows(conn, webhook_deliveries, rows)


async def waiting_contacts(conn: AsyncConnection, pairs: Sequence[Pair]) -> dict[Pair, dict[str, Any]]:
    """The kept fields of CRM records (source, external id) that are not leads yet, locked on
    PostgreSQL until the transaction ends."""
    found: dict[Pair, dict[str, Any]] = {}
    by_source: dict[str, set[str]] = {}
    for source, external_id in pairs:
        by_source.setdefault(source, set()).add(external_id)
    for source, external_ids in by_source.items():
        for chunk in chunks(sorted(external_ids)):
            query = sa.select(crm_contacts.c.external_id, crm_contacts.c.fields).where(
                crm_contacts.c.source == source, crm_contacts.c.external_id.in_(chunk)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            for row in (await conn.execute(query)).mappings():
                found[(source, row["external_id"])] = row["fields"]
    return found


async def save_waiting_contacts(
    conn: AsyncConnection, waiting: dict[Pair, dict[str, Any]], changed: set[Pair], at: datetime
) -> None:
    """Write the ``changed`` records: those still ``waiting`` for an e-mail with their fields, the
    others (they became leads) removed."""
    for source, external_id in sorted(changed):
        await conn.execute(
            sa.delete(crm_contacts).where(
                crm_contacts.c.source == source, crm_contacts.c.external_id == external_id
            )
        )
    rows = [
        {
            "source": source,
            "external_id": external_id,
            "fields": waiting[(source, external_id)],
            "updated_at": at,
        }
        for source, external_id in sorted(changed)
        if (source, external_id) in waiting
    ]
    if rows:
        await conn.execute(sa.insert(crm_contacts), rows)
