"""Queries on ``agreement_versions``. Transactions belong to ``UnitOfWork``, not here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.db.bulk import fetch_driver
from services.db.tables import agreement_versions

Row = dict[str, Any]
_SUMMARY = [c for c in agreement_versions.columns if c.name != "source"]


async def lock_versions(conn: AsyncConnection, agreement_id: str) -> dict[int, Row]:
    """Every version of one agreement, locked (PostgreSQL) so lifecycle changes to it take turns."""
    query = (
        sa.select(agreement_versions)
        .where(agreement_versions.c.agreement_id == agreement_id)
        .order_by(agreement_versions.c.version)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row["version"]: dict(row) for row in (await conn.execute(query)).mappings()}


async def get_version(conn: AsyncConnection, agreement_id: str, version: int) -> Row | None:
    """One version with its source text, or None."""
    query = sa.select(agreement_versions).where(
        agreement_versions.c.agreement_id == agreement_id, agreement_versions.c.version == version
    )
    row = (await conn.execute(query)).mappings().one_or_none()
    return dict(row) if row is not None else None


async def list_versions(conn: AsyncConnection, agreement_id: str | None = None) -> list[Row]:
    """Versions without their source text, by agreement id and version."""
    query = sa.select(*_SUMMARY).order_by(agreement_versions.c.agreement_id, agreement_versions.c.version)
    if agreement_id is not None:
        query = query.where(agreement_versions.c.agreement_id == agreement_id)
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def insert_version(conn: AsyncConnection, row: Row) -> None:
    """Store a new version (the primary key refuses a second one with the same id and version)."""
    await conn.execute(agreement_versions.insert().values(**row))


async def set_status(
    conn: AsyncConnection, agreement_id: str, version: int, status: str, at: datetime
) -> None:
    """Move a version to ``status`` (``active`` or ``retired``), stamping when."""
    stamp: dict[str, datetime | None] = (
        {"activated_at": at, "retired_at": None} if status == "active" else {"retired_at": at}
    )
    await conn.execute(
        agreement_versions.update()
        .where(agreement_versions.c.agreement_id == agreement_id, agreement_versions.c.version == version)
        .values(status=status, **stamp)
    )


_ACTIVE = "SELECT version, digest FROM agreement_versions WHERE agreement_id = {} AND status = 'active'"
_ACTIVE_SQL = {"sqlite": _ACTIVE.format("?"), "postgresql": _ACTIVE.format("$1")}


async def active_stamp(conn: AsyncConnection, agreement_id: str) -> tuple[int, str] | None:
    """The active version's number and digest (one indexed read at driver level, once per ingest batch)."""
    rows = await fetch_driver(conn, _ACTIVE_SQL[conn.dialect.name], [agreement_id])
    return (int(rows[0][0]), str(rows[0][1])) if rows else None
