"""The unit of work's kept connection and the writer's SQLite BEGIN, on real databases."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.db import repositories as repo
from services.db.engine import create_engine
from services.db.uow import UnitOfWork
from services.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _lead(n: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "source": "uow", "external_id": f"u-{n}", "email": f"u{n}@example.com",
        "company": None, "profile": {}, "activity_counts": {}, "stage": "new", "fit_score": 0,
        "engagement_score": 0, "queue": None, "owner": None, "agreement_version": None,
        "last_activity_at": None, "created_at": T0, "updated_at": T0, "engagement_weights": {},
        "engagement_as_of": None, "closed_at": None, "recycled_count": 0, "account_key": None,
    }  # fmt: skip


@pytest.fixture
async def kept(db_url: str) -> AsyncIterator[UnitOfWork]:
    """A unit of work keeping its connection, on an engine like the writer process's."""
    engine = create_engine(Settings(database_url=db_url), inline_sqlite=True)
    uow = UnitOfWork(engine, keep_connection=True)
    yield uow
    await uow.close()
    await engine.dispose()


async def _stored(uow: UnitOfWork, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    async with uow.read() as conn:
        return [row["id"] for row in await repo.leads_by_id(conn, [row["id"] for row in rows])]


async def test_a_kept_connection_serves_every_transaction_and_each_commits(kept: UnitOfWork) -> None:
    rows = [_lead(0), _lead(1)]
    seen = []
    for row in rows:
        async with kept.transaction() as conn:
            await repo.save_leads(conn, [row], [])
            seen.append(conn)
    assert seen[0] is seen[1]  # one checkout, not one per transaction
    assert sorted(await _stored(kept, rows)) == sorted(row["id"] for row in rows)


class _AbortError(Exception):
    pass


async def test_a_failed_transaction_rolls_back_and_the_next_one_checks_out_afresh(kept: UnitOfWork) -> None:
    """After an error the kept connection goes back to the pool (reset there, or discarded if broken)."""
    failed, later = _lead(0), _lead(1)
    used: list[AsyncConnection] = []

    async def insert_then_fail() -> None:
        async with kept.transaction() as conn:
            await repo.save_leads(conn, [failed], [])
            used.append(conn)
            raise _AbortError

    with pytest.raises(_AbortError):
        await insert_then_fail()
    (first,) = used
    assert first.closed
    async with kept.transaction() as conn:
        await repo.save_leads(conn, [later], [])
        assert conn is not first
    assert await _stored(kept, [failed, later]) == [later["id"]]


async def test_a_kept_connection_refuses_a_second_transaction_at_the_same_time(kept: UnitOfWork) -> None:
    async with kept.transaction():
        with pytest.raises(RuntimeError, match="one transaction at a time"):
            async with kept.transaction():
                pass
    async with kept.transaction() as conn:  # the first one's end left it usable
        await repo.save_leads(conn, [_lead(0)], [])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_writers_sqlite_transaction_holds_the_write_lock_from_its_begin(
    db_url: str, kept: UnitOfWork
) -> None:
    """``BEGIN IMMEDIATE`` goes straight to SQLite on the writer's connection: the lock is taken
    before any statement, and a BEGIN that cannot get it fails as a database error (a 503 for the
    group commit), after which the next transaction works again."""
    other = sqlite3.connect(make_url(db_url).database or "", isolation_level=None, timeout=0)
    try:
        async with kept.transaction() as conn:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            await conn.exec_driver_sql("PRAGMA busy_timeout=50")  # for the BEGIN below
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            async with kept.transaction():
                pass
        other.execute("ROLLBACK")
        async with kept.transaction() as conn:
            await repo.save_leads(conn, [row := _lead(0)], [])
        assert await _stored(kept, [row]) == [row["id"]]
    finally:
        other.close()
