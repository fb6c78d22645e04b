"""Repositories, outbox and clock claiming on real SQLite and PostgreSQL, including concurrency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.events import LEAD_HANDED_OFF, LEAD_STAGE_CHANGED, LEAD_UNASSIGNED, SlaClockEvent
from services.agreement_lifecycle import ActiveAgreement, AgreementLifecycle
from services.db import clocks as clock_repo
from services.db import rep_load
from services.db import repositories as repo
from services.db.engine import create_engine
from services.db.tables import leads, outbox, reps, sla_clocks
from services.db.uow import UnitOfWork
from services.events import outbox_row
from services.settings import Settings
from services.workers.clocks import ClockWorker
from tests.conftest import EXAMPLE_AGREEMENT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _lead(n: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "source": "test", "external_id": f"x-{n}", "email": f"a{n}@example.com",
        "company": None, "profile": {}, "activity_counts": {}, "stage": "mql", "fit_score": 0,
        "engagement_score": 0, "queue": "q", "owner": "r", "agreement_version": "t@1",
        "last_activity_at": None, "created_at": T0, "updated_at": T0, "engagement_weights": {},
        "engagement_as_of": None, "closed_at": None, "recycled_count": 0, "account_key": None,
    }  # fmt: skip


def _clock(lead_id: uuid.UUID, due: datetime, warn: datetime | None = None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "lead_id": lead_id, "obligation": "first_touch", "queue": "q", "rep_id": "r",
        "state": "open", "started_at": T0, "due_at": due, "closed_at": None, "agreement_version": "t@1",
        "warn_at": warn, "warned_at": None, "check_at": warn or due, "calendar": None, "paused_at": None,
        "paused_seconds": 0.0, "attempts_made": 0, "attempts_required": None, "fulfilled_at": None,
    }  # fmt: skip


async def _run_clock_workers(db_url: str, uow: UnitOfWork, count: int, now: datetime) -> list[int]:
    """``count`` clock workers, each on its own engine (as replicas are), run until nothing is due at
    ``now``; how many clocks each handled."""
    settings = Settings(database_url=db_url, clock_batch_size=40, agreement_path=EXAMPLE_AGREEMENT)
    await AgreementLifecycle(uow, settings, "acme-sla", lambda: T0).install_file(
        EXAMPLE_AGREEMENT, EXAMPLE_AGREEMENT.read_text(encoding="utf-8")
    )
    engines = [create_engine(settings) for _ in range(count)]
    workers = [
        ClockWorker(UnitOfWork(e), settings, ActiveAgreement("acme-sla"), lambda: now) for e in engines
    ]

    async def drain(worker: ClockWorker) -> int:
        total = 0
        while (n := await worker.check_due()) > 0:
            total += n
        while await worker.escalate_pending() > 0:
            pass
        return total

    try:
        return list(await asyncio.gather(*(drain(w) for w in workers)))
    finally:
        for engine in engines:
            await engine.dispose()


async def _seed_queue(uow: UnitOfWork) -> None:
    async with uow.transaction() as conn:
        await rep_load.sync_roster(conn, {"q": ("test queue", [("r1", "One"), ("r2", "Two")])}, T0)


async def test_times_round_trip_as_aware_utc(uow: UnitOfWork) -> None:
    lead = _lead(1)
    lead["created_at"] = datetime(2026, 3, 29, 3, 30, tzinfo=UTC) - timedelta(microseconds=1)
    async with uow.transaction() as conn:
        await repo.save_leads(conn, [lead], [])
    async with uow.read() as conn:
        (stored,) = await repo.leads_by_id(conn, [lead["id"]])
    assert stored["created_at"] == lead["created_at"]
    assert stored["created_at"].tzinfo is not None


async def test_lookup_by_external_id_and_event_keys(uow: UnitOfWork) -> None:
    rows = [_lead(n) for n in range(3)]
    async with uow.transaction() as conn:
        await repo.save_leads(conn, rows, [])
        await repo.insert_events(
            conn,
            [
                {"event_key": "k1", "request_hash": "h", "lead_id": rows[0]["id"], "kind": "lead",
                 "payload": {}, "response": {"status": 201, "body": {"a": 1}}, "received_at": T0},
            ],
        )  # fmt: skip
    async with uow.read() as conn:
        found = await repo.leads_by_external_id(conn, [("test", "x-1"), ("test", "x-2"), ("other", "x-1")])
        events = await repo.find_events(conn, ["k1", "k2"])
    assert sorted(r["external_id"] for r in found) == ["x-1", "x-2"]
    assert events["k1"]["response"] == {"status": 201, "body": {"a": 1}}
    assert "k2" not in events


async def test_account_owners_come_from_the_index_of_owned_leads_only(uow: UnitOfWork) -> None:
    def lead(n: int, account: str | None, owner: str | None, minutes: int) -> dict[str, Any]:
        row = _lead(n)
        row.update(account_key=account, owner=owner, queue="q" if owner else None)
        row["updated_at"] = T0 + timedelta(minutes=minutes)
        return row

    rows = [
        lead(1, "domain:a.com", "r1", 1), lead(2, "domain:a.com", "r2", 5),  # the latest owner wins
        lead(3, "domain:a.com", None, 9),  # not assigned: not an owner, not in the index
        lead(4, "domain:b.com", None, 1), lead(5, None, "r1", 1),
    ]  # fmt: skip
    async with uow.transaction() as conn:
        await repo.save_leads(conn, rows, [])
        owners = await repo.account_owners(conn, ["domain:a.com", "domain:b.com", "domain:c.com"])
        definition, entries = await _index(conn, "ix_leads_account_key")
    assert owners == {("domain:a.com", "q"): "r2"}
    assert "owner IS NOT NULL" in str(definition)
    assert entries in (None, 3)  # SQLite: leads 1, 2 and 5 have an owner


async def test_report_time_indexes_hold_only_what_reports_read(uow: UnitOfWork) -> None:
    lead = _lead(1)
    events = [
        {"event_key": f"k{n}", "request_hash": "h", "lead_id": lead["id"], "kind": kind, "payload": {},
         "response": {"status": 202, "body": {}}, "received_at": T0 + timedelta(minutes=n)}
        for n, kind in enumerate(["lead", "activity", "feedback", "lead", "feedback"])
    ]  # fmt: skip
    clocks = [_clock(lead["id"], T0 + timedelta(hours=1)) for _ in range(3)]
    clocks[1]["obligation"], clocks[2]["obligation"] = "attempts", "decision"
    async with uow.transaction() as conn:
        await repo.save_leads(conn, [lead], [])
        await repo.insert_events(conn, events)
        await clock_repo.insert_clocks(conn, clocks)
        feedback = await _index(conn, "ix_lead_events_feedback_received_at")
        first_touch = await _index(conn, "ix_sla_clocks_first_touch_started_at")
    assert "kind" in feedback[0]
    assert "'feedback'" in feedback[0]
    assert "obligation" in first_touch[0]
    assert "'first_touch'" in first_touch[0]
    assert (feedback[1], first_touch[1]) in ((None, None), (2, 1))  # SQLite: two feedback events, one clock


async def test_outbox_time_indexes_hold_only_unassigned_waits_and_handoffs(uow: UnitOfWork) -> None:
    types = [LEAD_STAGE_CHANGED, LEAD_HANDED_OFF, LEAD_STAGE_CHANGED, LEAD_UNASSIGNED]
    rows = [
        outbox_row(topic="t", event_type=event_type, cause=f"c{n}", subject="lead", data={}, at=T0)
        for n, event_type in enumerate(types)
    ]
    async with uow.transaction() as conn:
        await repo.insert_outbox(conn, rows)
        unassigned = await _index(conn, "ix_outbox_unassigned_created_at")
        handed_off = await _index(conn, "ix_outbox_handed_off_created_at")
    assert f"'{LEAD_UNASSIGNED}'" in unassigned[0]
    assert f"'{LEAD_HANDED_OFF}'" in handed_off[0]
    assert (unassigned[1], handed_off[1]) in ((None, None), (1, 1))  # SQLite: not the two stage changes


async def _index(conn: AsyncConnection, name: str) -> tuple[str, int | None]:
    """An index's definition, and on SQLite its number of entries."""
    if conn.dialect.name != "sqlite":
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
        return str(await conn.scalar(sa.text(query), {"name": name})), None
    query = "SELECT sql FROM sqlite_master WHERE name = :name"
    definition = await conn.scalar(sa.text(query), {"name": name})
    entries = await conn.scalar(
        sa.text("SELECT sum(ncell) FROM dbstat WHERE name = :name AND pagetype = 'leaf'"), {"name": name}
    )
    return str(definition), entries


@pytest.mark.parametrize("count", [1, 3, 5, 17])
async def test_driver_level_lookups_return_what_sqlalchemy_reads(uow: UnitOfWork, count: int) -> None:
    """``BulkSelect`` (the ingest lookups) decodes every column type exactly as SQLAlchemy does."""
    rows = [_lead(n) for n in range(count + 2)]
    for n, row in enumerate(rows):
        row.update(
            company=f"Company {n}", profile={"tags": ["a", n], "nested": {"x": 1.5}},
            activity_counts={"demo": n}, last_activity_at=T0 + timedelta(microseconds=n),
            owner=None if n % 2 else "r",
        )  # fmt: skip
    wanted = rows[:count]
    async with uow.transaction() as conn:
        await repo.save_leads(conn, rows, [])
        by_external = await repo.leads_by_external_id(
            conn, [("test", r["external_id"]) for r in wanted], lock=True
        )
        by_id = await repo.leads_by_id(conn, [r["id"] for r in wanted], lock=True)
    async with uow.read() as conn:
        query = sa.select(leads).where(leads.c.id.in_([r["id"] for r in wanted])).order_by(leads.c.id)
        expected = [dict(r) for r in (await conn.execute(query)).mappings()]
        unlocked = await repo.leads_by_id(conn, [r["id"] for r in wanted])
    assert len(expected) == count
    for found in (by_external, by_id, unlocked):
        assert sorted(found, key=lambda r: r["id"]) == expected
        assert all(type(r["id"]) is uuid.UUID and r["created_at"].tzinfo is UTC for r in found)


class _AbortError(Exception):
    pass


async def test_driver_level_writes_roll_back_with_their_transaction(uow: UnitOfWork) -> None:
    """Statements sent to the driver directly belong to the unit of work's transaction."""
    row = _lead(0)

    async def insert_then_fail() -> None:
        async with uow.transaction() as conn:
            await repo.leads_by_id(conn, [row["id"]], lock=True)  # the transaction's first statement
            await repo.save_leads(conn, [row], [])
            raise _AbortError

    with pytest.raises(_AbortError):
        await insert_then_fail()
    async with uow.read() as conn:
        assert await repo.leads_by_id(conn, [row["id"]]) == []


async def test_a_lead_locked_by_the_first_statement_stays_locked(db_url: str, uow: UnitOfWork) -> None:
    """A lead read to be changed at the start of one transaction cannot change under it."""
    row = _lead(0)
    async with uow.transaction() as conn:
        await repo.save_leads(conn, [row], [])
    from services.db.engine import create_engine  # noqa: PLC0415

    other = UnitOfWork(create_engine(Settings(database_url=db_url)))
    first_has_lock = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with uow.transaction() as conn:
            (lead,) = await repo.leads_by_id(conn, [row["id"]], lock=True)
            first_has_lock.set()
            await asyncio.sleep(0.3)
            order.append("first wrote")
            await repo.save_leads(conn, [], [{**lead, "activity_counts": {"a": 1}}])

    async def second() -> None:
        await first_has_lock.wait()
        async with other.transaction() as conn:
            (lead,) = await repo.leads_by_id(conn, [row["id"]], lock=True)
            order.append("second read")
            counts = {"a": lead["activity_counts"].get("a", 0) + 1}
            await repo.save_leads(conn, [], [{**lead, "activity_counts": counts}])

    try:
        await asyncio.gather(first(), second())
    finally:
        await other.engine.dispose()
    assert order == ["first wrote", "second read"]
    async with uow.read() as conn:
        (lead,) = await repo.leads_by_id(conn, [row["id"]])
    assert lead["activity_counts"] == {"a": 2}


async def test_concurrent_rep_load_updates_are_never_lost(db_url: str, uow: UnitOfWork) -> None:
    """Replicas lock credits and rep states before changing them: every increment counts."""
    await _seed_queue(uow)
    # Separate engines = separate connections, as several replicas would have.
    from services.db.engine import create_engine  # noqa: PLC0415

    engines = [create_engine(Settings(database_url=db_url)) for _ in range(4)]

    async def assign_some(engine_index: int, count: int) -> None:
        for _ in range(10):
            async with UnitOfWork(engines[engine_index]).transaction() as conn:
                credits = await rep_load.lock_credits(conn, ["q"])
                (state,) = (await rep_load.lock_rep_states(conn, ["r1"])).values()
                await asyncio.sleep(0)  # let the other replicas try to interleave
                await rep_load.save_credits(conn, {("q", "r1"): credits[("q", "r1")] + count})
                state.update(open_leads=state["open_leads"] + count, updated_at=T0)
                await rep_load.save_rep_states(conn, [state])

    try:
        await asyncio.gather(*(assign_some(i, i + 1) for i in range(4)))
    finally:
        for engine in engines:
            await engine.dispose()
    async with uow.read() as conn:
        credits = await rep_load.lock_credits(conn, ["q"])
        states = await rep_load.lock_rep_states(conn, ["r1", "r2"])
    assert credits == {("q", "r1"): 100, ("q", "r2"): 0}  # 10 x (1 + 2 + 3 + 4)
    assert states["r1"]["open_leads"] == 100
    assert states["r2"]["open_leads"] == 0


async def test_roster_sync_keeps_credits_and_load_and_deactivates_dropped_members(uow: UnitOfWork) -> None:
    await _seed_queue(uow)
    async with uow.transaction() as conn:
        await rep_load.save_credits(conn, {("q", "r1"): 7})
        await rep_load.save_rep_states(
            conn, [{"rep_id": "r1", "open_leads": 3, "new_today": 1, "new_on": T0.date(), "updated_at": T0}]
        )
        await rep_load.sync_roster(
            conn, {"q": ("renamed", [("r1", "One")]), "p": ("", [("r3", "Three")])}, T0
        )
    async with uow.read() as conn:
        members = {(r.queue_id, r.id): (r.active, r.credit) for r in await conn.execute(sa.select(reps))}
        states = await rep_load.lock_rep_states(conn, ["r1", "r2", "r3"])
    assert members == {("q", "r1"): (True, 7), ("q", "r2"): (False, 0), ("p", "r3"): (True, 0)}
    assert states["r1"]["open_leads"] == 3
    assert states["r1"]["new_on"] == T0.date()
    assert set(states) == {"r1", "r2", "r3"}


async def test_outbox_reads_in_order_and_marks_published(uow: UnitOfWork) -> None:
    rows = [
        outbox_row(topic="t", event_type="e", cause=f"c{n}", subject=f"s{n % 2}", data={"n": n}, at=T0)
        for n in range(5)
    ]
    async with uow.transaction() as conn:
        await repo.insert_outbox(conn, rows)
    async with uow.transaction() as conn:
        pending = await repo.unpublished(conn, 3)
        await repo.mark_published(conn, [r["id"] for r in pending[:2]], T0)
    async with uow.read() as conn:
        left = await repo.unpublished(conn, 10)
        count = await repo.count_unpublished(conn)
        feed = await repo.events_after(conn, 0, 10)
    assert [orjson.loads(r["event_json"])["data"]["n"] for r in pending] == [0, 1, 2]
    assert [orjson.loads(r["event_json"]) for r in left] == [
        row["event"] for row in rows[2:]
    ]  # stored JSON, as is
    assert count == 3
    assert len(feed) == 5  # the feed keeps published events


async def test_stable_event_ids_make_a_repeated_write_fail_not_duplicate(uow: UnitOfWork) -> None:
    row = outbox_row(topic="t", event_type="e", cause="same", subject="s", data={}, at=T0)
    async with uow.transaction() as conn:
        await repo.insert_outbox(conn, [row])
    try:
        async with uow.transaction() as conn:
            await repo.insert_outbox(conn, [dict(row)])
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a second outbox row with the same event id was accepted")
    async with uow.read() as conn:
        assert await repo.count_unpublished(conn) == 1


async def test_due_clocks_are_breached_and_escalated_once_even_with_concurrent_workers(
    db_url: str, uow: UnitOfWork
) -> None:
    """Three workers, 300 due clocks of rep-anna's leads: each breaches once and is escalated once (the
    example agreement reassigns to the next rep of the queue, with a new clock), and the reps' open
    counts come out exact."""
    lead_rows = [{**_lead(n), "queue": "enterprise-dach", "owner": "rep-anna"} for n in range(300)]
    clocks = [
        {**_clock(row["id"], T0 + timedelta(minutes=1)), "queue": "enterprise-dach", "rep_id": "rep-anna"}
        for row in lead_rows
    ]
    clocks.append(_clock(lead_rows[0]["id"], T0 + timedelta(hours=5)))  # not due yet
    async with uow.transaction() as conn:
        await repo.save_leads(conn, lead_rows, [])
        await clock_repo.insert_clocks(conn, clocks)
    counts = await _run_clock_workers(db_url, uow, 3, T0 + timedelta(minutes=2))
    assert sum(counts) == 300
    async with uow.read() as conn:
        states: dict[str, int] = dict(
            (
                await conn.execute(
                    sa.select(sla_clocks.c.state, sa.func.count()).group_by(sla_clocks.c.state)
                )
            ).all()
        )
        events: dict[str, int] = dict(
            (await conn.execute(sa.select(outbox.c.type, sa.func.count()).group_by(outbox.c.type))).all()
        )
        owners: dict[str | None, int] = dict(
            (await conn.execute(sa.select(leads.c.owner, sa.func.count()).group_by(leads.c.owner))).all()
        )
        reps_now = {row["rep_id"]: row for row in await rep_load.list_reps(conn)}
        new_clocks = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    sla_clocks.c.rep_id == "rep-jonas", sla_clocks.c.state == "open"
                )
            )
        ).scalar_one()
    assert states == {"breached": 300, "open": 301}  # 300 new clocks for the new owner, and the one not due
    assert {kind.rpartition(".")[2]: n for kind, n in events.items()} == {
        "activated": 1, "breached": 300, "escalated": 300, "handed_off": 300,
    }  # fmt: skip
    assert owners == {"rep-jonas": 300}
    assert new_clocks == 301  # the not-yet-due clock followed its lead to the new owner
    assert reps_now["rep-jonas"]["open_leads"] == 300
    assert reps_now["rep-anna"]["open_leads"] == 0


async def test_feedback_reads_live_and_late_touchable_clocks_locked_from_the_worker(
    db_url: str, uow: UnitOfWork
) -> None:
    """Feedback reads a lead's live clocks and its breached first-touch clocks not yet touched; on
    PostgreSQL they stay locked until it commits, so a worker meanwhile skips the one falling due."""
    lead = _lead(1)
    later, falling_due = (
        _clock(lead["id"], T0 + timedelta(hours=1)),
        _clock(lead["id"], T0 + timedelta(minutes=1)),
    )
    untouched = {**_clock(lead["id"], T0), "state": "breached", "closed_at": T0}
    touched_late = {**untouched, "id": uuid.uuid4(), "fulfilled_at": T0 + timedelta(minutes=5)}
    met = {**_clock(lead["id"], T0), "state": "met", "closed_at": T0}
    attempts = {**untouched, "id": uuid.uuid4(), "obligation": "attempts"}
    async with uow.transaction() as conn:
        await repo.save_leads(conn, [lead], [])
        await clock_repo.insert_clocks(conn, [later, falling_due, untouched, touched_late, met, attempts])
    async with uow.transaction() as conn:
        rows = {row["id"]: row for row in await clock_repo.feedback_clocks_of(conn, [lead["id"]])}
        assert set(rows) == {later["id"], falling_due["id"], untouched["id"]}
        if conn.dialect.name == "postgresql":
            worker_engine = create_engine(Settings(database_url=db_url))
            try:
                async with UnitOfWork(worker_engine).transaction() as other:
                    claimed = await clock_repo.claim_due_clocks(other, T0 + timedelta(minutes=2), 10)
                assert claimed == ([], [])  # the due clock is locked by this feedback: skipped
            finally:
                await worker_engine.dispose()
        rows[falling_due["id"]].update(state="met", closed_at=T0, fulfilled_at=T0)
        rows[untouched["id"]].update(fulfilled_at=T0 + timedelta(minutes=3))
        await clock_repo.save_clocks(conn, [rows[falling_due["id"]], rows[untouched["id"]]])
    async with uow.read() as conn:
        assert {row["id"] for row in await clock_repo.feedback_clocks_of(conn, [lead["id"]])} == {later["id"]}
        saved = {
            row.id: row
            for row in await conn.execute(
                sa.select(sla_clocks.c.id, sla_clocks.c.state, sla_clocks.c.fulfilled_at)
            )
        }
    assert (saved[falling_due["id"]].state, saved[falling_due["id"]].fulfilled_at) == ("met", T0)
    assert saved[untouched["id"]].fulfilled_at == T0 + timedelta(minutes=3)


async def test_clocks_warn_once_then_breach_once_across_workers(db_url: str, uow: UnitOfWork) -> None:
    lead_rows = [_lead(n) for n in range(120)]
    due, warn = T0 + timedelta(hours=4), T0 + timedelta(hours=3)
    clocks = [_clock(row["id"], due, warn) for row in lead_rows]
    clocks.append(_clock(lead_rows[0]["id"], due))  # no warning: checked only when due
    async with uow.transaction() as conn:
        await repo.save_leads(conn, lead_rows, [])
        await clock_repo.insert_clocks(conn, clocks)
        assert await clock_repo.next_check_at(conn) == warn

    async def round_at(now: datetime) -> dict[str, int]:
        await _run_clock_workers(db_url, uow, 3, now)
        async with uow.read() as conn:
            rows = (
                await conn.execute(sa.select(outbox.c.type, sa.func.count()).group_by(outbox.c.type))
            ).all()
        return {kind.rpartition(".")[2]: count for kind, count in rows}

    assert await round_at(warn - timedelta(seconds=1)) == {"activated": 1}
    assert await round_at(warn + timedelta(minutes=5)) == {"activated": 1, "warning": 120}
    assert await round_at(warn + timedelta(minutes=10)) == {"activated": 1, "warning": 120}  # once each
    async with uow.read() as conn:
        assert await clock_repo.next_check_at(conn) == due
        assert await clock_repo.count_open_clocks(conn) == {"warned": 120, "open": 1}
        warned = await conn.execute(
            sa.select(sla_clocks.c.warned_at).where(sla_clocks.c.warn_at.is_not(None))
        )
        assert {row.warned_at for row in warned} == {warn + timedelta(minutes=5)}
    # Each breach is escalated once. The leads' queue is not in the agreement, so the first breach's
    # reassignment is skipped; lead 0 breaches twice and its second step moves it to inside-sales.
    assert await round_at(due) == {
        "activated": 1, "warning": 120, "breached": 121, "escalated": 121, "handed_off": 1,
    }  # fmt: skip
    async with uow.read() as conn:
        (event,) = [
            orjson.loads(row["event_json"])
            for row in await repo.unpublished(conn, 1000)
            if orjson.loads(row["event_json"])["type"].endswith("sla.warning")
        ][:1]
    data = SlaClockEvent.model_validate(event["data"])
    assert data.warn_at == warn
    assert data.time_used_seconds == 3 * 3600 + 300  # wall clock: the clock has no calendar
    assert data.calendar is None


async def test_a_clock_found_past_its_due_time_breaches_without_warning(db_url: str, uow: UnitOfWork) -> None:
    lead = _lead(1)
    async with uow.transaction() as conn:
        await repo.save_leads(conn, [lead], [])
        await clock_repo.insert_clocks(
            conn, [_clock(lead["id"], T0 + timedelta(hours=4), T0 + timedelta(hours=3))]
        )
    assert await _run_clock_workers(db_url, uow, 1, T0 + timedelta(hours=5)) == [1]
    async with uow.read() as conn:
        types = [orjson.loads(row["event_json"])["type"] for row in await repo.unpublished(conn, 10)]
    assert [t.rpartition(".")[2] for t in types] == ["activated", "breached", "escalated"]
