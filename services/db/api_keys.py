"""Queries on ``api_keys``. Transactions belong to ``UnitOfWork``, not here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.db.tables import api_keys

Row = dict[str, Any]


async def insert_key(conn: AsyncConnection, row: Row) -> None:
    """Store a new key (its secret hashed)."""
    await conn.execute(api_keys.insert().values(**row))


async def list_keys(conn: AsyncConnection, *, include_revoked: bool = True) -> list[Row]:
    """Keys by creation time (never their secrets: only the hash is stored)."""
    query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def revoke_key(conn: AsyncConnection, key_id: str, at: datetime) -> bool:
    """Revoke a key that is not revoked yet; whether there was one."""
    result = await conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return bool(result.rowcount)
