"""SLA clock benchmark: scheduling rate, due-scan time as open clocks grow, and due -> breach lag,
next to APScheduler 3.x on its SQLAlchemy job store.

Run from the repository root::

    .venv/bin/python bench/clocks.py [--clocks 1000000] [--due 10000] [--aps-jobs 50000] [--aps-due 5000]

For SQLite and PostgreSQL (an embedded server, as the tests start it), on a freshly migrated database:

1. **Scheduling**: insert ``--clocks`` open first-touch clocks (due over the next 30 days) in
   transactions of 10,000, as the ingest path writes them; clocks/s.
2. **Due scan**: at 10,000, 100,000 and every further tenfold of open clocks, with 1,000 clocks due,
   time the clock worker's claim of those 1,000 (rolled back, so they stay due); it must stay flat.
3. **Lag**: ``--due`` clocks all due 2 s ahead, then the real ``ClockWorker`` (background loop, real
   time): each breach's lag is its event time minus its due time; p50/p99, and the firing rate. Each
   breach is then escalated (a reassignment): the escalation lag (due -> ``sla.escalated``) and rate.

APScheduler 3.x (``BackgroundScheduler``, ``SQLAlchemyJobStore`` on a SQLite file, thread-pool
executor) schedules ``--aps-jobs`` date jobs (its scheduling rate) and fires ``--aps-due`` jobs due at
the same moment (its firing rate and lag). It runs on SQLite only (its job store is synchronous and
this project has no synchronous PostgreSQL driver); both databases are compared with that baseline.
The last line is one JSON object with ``schedule_ratio``/``fire_ratio`` (ours / APScheduler) and
``lag_p99_s`` per database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.agreement_lifecycle import ActiveAgreement, AgreementLifecycle  # noqa: E402
from services.clock import utcnow  # noqa: E402
from services.db import clocks as clock_repo  # noqa: E402
from services.db import repositories as repo  # noqa: E402
from services.db.bulk import column_encoder  # noqa: E402
from services.db.engine import create_engine  # noqa: E402
from services.db.tables import outbox, sla_clocks  # noqa: E402
from services.db.uow import UnitOfWork  # noqa: E402
from services.events import clock_event_data, outbox_row  # noqa: E402
from services.ids import uuid7  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.workers.clocks import ClockWorker  # noqa: E402

AGREEMENT = ROOT / "deploy" / "agreements" / "example.yaml"
INSERT_BATCH = 10_000
LEADS = 1_000  # clocks are spread over this many leads (the clocks' foreign key)


class _RollbackError(Exception):
    """Raised to leave a timed transaction without committing it."""


def _clock(lead_id: uuid.UUID, started: datetime, due: datetime) -> dict[str, Any]:
    return {
        "id": uuid7(), "lead_id": lead_id, "obligation": "first_touch", "queue": "smb", "rep_id": "rep-1",
        "state": "open", "started_at": started, "due_at": due, "closed_at": None, "agreement_version": "b@1",
        "warn_at": None, "warned_at": None, "check_at": due, "calendar": None, "paused_at": None,
        "paused_seconds": 0.0, "attempts_made": 0, "attempts_required": None, "fulfilled_at": None,
    }  # fmt: skip


def _lead(n: int, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid7(), "source": "bench", "external_id": f"l{n}", "email": f"l{n}@bench.example",
        "company": None, "profile": {}, "activity_counts": {}, "stage": "sql", "fit_score": 0,
        "engagement_score": 0, "queue": "smb", "owner": "rep-1", "agreement_version": "b@1",
        "last_activity_at": None, "created_at": now, "updated_at": now, "engagement_weights": {},
        "engagement_as_of": None, "closed_at": None, "recycled_count": 0, "account_key": None,
    }  # fmt: skip


async def _timed_claim(uow: UnitOfWork, now: datetime, limit: int) -> tuple[float, int]:
    """Seconds to claim up to ``limit`` due clocks, in a transaction that is then rolled back."""
    found = 0
    started = time.perf_counter()
    elapsed = 0.0
    with contextlib.suppress(_RollbackError):
        async with uow.transaction() as conn:
            warned, breached = await clock_repo.claim_due_clocks(conn, now, limit)
            found = len(warned) + len(breached)
            elapsed = time.perf_counter() - started
            raise _RollbackError
    return elapsed, found


async def bench_database(url: str, clocks: int, due_count: int) -> dict[str, Any]:
    """Schedule, scan and fire on one (migrated) database; the figures."""
    settings = Settings(database_url=url, agreement_path=AGREEMENT, clock_poll_seconds=1.0)
    engine = create_engine(settings)
    uow = UnitOfWork(engine)
    now = utcnow()
    await AgreementLifecycle(uow, settings, "acme-sla", utcnow).install_file(
        AGREEMENT, AGREEMENT.read_text(encoding="utf-8")
    )
    leads = [_lead(n, now) for n in range(LEADS)]
    async with uow.transaction() as conn:
        await repo.save_leads(conn, leads, [])
    # 1,000 clocks already due, so each scan below has a full batch to find
    async with uow.transaction() as conn:
        await clock_repo.insert_clocks(
            conn, [_clock(leads[n % LEADS]["id"], now, now - timedelta(minutes=1)) for n in range(1000)]
        )
    scans: dict[str, float] = {}
    next_scan = 10_000
    inserted = 0
    insert_seconds = 0.0
    horizon = timedelta(days=30).total_seconds()
    while inserted < clocks:
        size = min(INSERT_BATCH, clocks - inserted)
        rows = [
            _clock(leads[(inserted + n) % LEADS]["id"], now, now + timedelta(hours=1, seconds=seconds))
            for n in range(size)
            for seconds in [(inserted + n) * horizon / clocks]
        ]
        started = time.perf_counter()
        async with uow.transaction() as conn:
            await clock_repo.insert_clocks(conn, rows)
        insert_seconds += time.perf_counter() - started
        inserted += size
        if inserted >= next_scan or inserted == clocks:
            runs = [await _timed_claim(uow, utcnow(), 1000) for _ in range(5)]
            assert all(found == 1000 for _, found in runs), runs
            scans[str(inserted)] = round(1000 * statistics.median(s for s, _ in runs), 2)  # ms
            print(
                f"  {inserted:>9,} open clocks: claim 1,000 due in {scans[str(inserted)]:.2f} ms", flush=True
            )
            next_scan *= 10
    schedule_rate = inserted / insert_seconds
    async with uow.transaction() as conn:  # the 1,000 scan clocks out of the way
        await clock_repo.claim_due_clocks(conn, utcnow(), 1000)
    lag = await _lag(uow, settings, due_count)
    await engine.dispose()
    return {"schedule_per_s": round(schedule_rate), "claim_1000_ms_by_open_clocks": scans, **lag}


async def _lag(uow: UnitOfWork, settings: Settings, due_count: int) -> dict[str, Any]:
    """``due_count`` clocks due at once, breached by the real clock worker; lag and firing rate."""
    # One lead per falling-due clock, as in production (a lead has a clock or two open, not the
    # thousand each of the scan leads carries), in the example's ``smb`` queue: each breach is then
    # escalated by the example's first step (reassign to the next rep with a new clock, and notify),
    # after the breach, in the worker's following transactions; the escalation lag is measured too.
    fresh = [_lead(LEADS + n, utcnow()) for n in range(due_count)]
    due = utcnow() + timedelta(seconds=2)
    rows = [_clock(lead["id"], due - timedelta(hours=1), due) for lead in fresh]
    async with uow.transaction() as conn:
        await repo.save_leads(conn, fresh, [])
        await clock_repo.insert_clocks(conn, rows)
    async with uow.read() as conn:
        before = (await conn.execute(sa.select(sa.func.max(outbox.c.id)))).scalar_one() or 0
    worker = ClockWorker(uow, settings, ActiveAgreement("acme-sla"), utcnow)
    worker.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        async with uow.read() as conn:
            left = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(sla_clocks)
                    # on the worker's own (state, check_at) index: this poll must not scan 1M clocks
                    .where(sla_clocks.c.state == "open", sla_clocks.c.check_at <= due)
                )
            ).scalar_one()
            if left == 0 and await clock_repo.count_pending_escalations(conn) == 0:
                break
    await worker.stop()
    async with uow.read() as conn:
        events = (await conn.execute(sa.select(outbox.c.event).where(outbox.c.id > before))).scalars().all()
    lags, escalation_lags = (
        sorted(
            (
                datetime.fromisoformat(e["data"]["at"]) - datetime.fromisoformat(e["data"]["due_at"])
            ).total_seconds()
            for e in events
            if e["type"].endswith(suffix)
        )
        for suffix in ("sla.breached", "sla.escalated")
    )
    if len(lags) != due_count or len(escalation_lags) != due_count:
        raise SystemExit(
            f"expected {due_count} breaches and escalations: {len(lags)}, {len(escalation_lags)}"
        )
    return {
        "fired": len(lags),
        "fire_per_s": round(len(lags) / max(lags[-1], 1e-3)),
        "lag_p50_s": round(lags[len(lags) // 2], 3),
        "lag_p99_s": round(lags[int(len(lags) * 0.99) - 1], 3),
        "lag_max_s": round(lags[-1], 3),
        "escalated_per_s": round(len(escalation_lags) / max(escalation_lags[-1], 1e-3)),
        "escalation_lag_p99_s": round(escalation_lags[int(len(escalation_lags) * 0.99) - 1], 3),
    }


def bench_apscheduler(workdir: Path, jobs: int, due_count: int) -> dict[str, Any]:
    """APScheduler 3.x on its SQLAlchemy job store (SQLite): scheduling rate, firing rate and lag."""
    from apscheduler.executors.pool import ThreadPoolExecutor  # noqa: PLC0415
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # noqa: PLC0415
    from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415

    fired = _FIRED
    fired.clear()
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{workdir / 'aps.db'}")},
        executors={"default": ThreadPoolExecutor(10)},
        job_defaults={"misfire_grace_time": None, "coalesce": False},
        timezone=UTC,
    )
    scheduler.start(paused=True)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(jobs):
        scheduler.add_job(_noop, "date", run_date=now + timedelta(days=1, seconds=n), args=[n], id=f"far-{n}")
    schedule_rate = jobs / (time.perf_counter() - started)
    print(f"  APScheduler: {schedule_rate:,.0f} jobs/s scheduled", flush=True)
    due = datetime.now(UTC) + timedelta(seconds=max(3.0, due_count / schedule_rate + 2))
    for n in range(due_count):
        scheduler.add_job(_record, "date", run_date=due, args=[n], id=f"due-{n}")
    scheduler.resume()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(fired) < due_count:
        time.sleep(0.25)
    scheduler.shutdown(wait=True)
    lags = sorted(at - due.timestamp() for at in fired)
    if len(lags) != due_count:
        raise SystemExit(f"APScheduler fired {len(lags)} of {due_count} jobs in time")
    return {
        "schedule_per_s": round(schedule_rate),
        "fired": len(lags),
        "fire_per_s": round(len(lags) / max(lags[-1], 1e-3)),
        "lag_p50_s": round(lags[len(lags) // 2], 3),
        "lag_p99_s": round(lags[int(len(lags) * 0.99) - 1], 3),
    }


def _noop(_n: int) -> None:
    """A far-future job (never runs during the benchmark)."""


_FIRED: list[float] = []  # module level: the job store pickles a job's arguments
_FIRED_LOCK = threading.Lock()


def _record(_n: int) -> None:
    """A job falling due: note when it ran."""
    with _FIRED_LOCK:
        _FIRED.append(time.time())


def sqlite_write_floor(workdir: Path, due_count: int, batch: int) -> dict[str, Any]:
    """The least a breach costs in SQLite itself: the worker's own statements (claim, outbox insert,
    pending-escalation mark, in transactions of ``batch``, with the service's pragmas), run from plain
    ``sqlite3`` with one prebuilt event; no decoding, no event building, no asyncio. Our firing rate is
    bounded by this."""
    url = f"sqlite+aiosqlite:///{workdir / 'floor.db'}"
    upgrade(url)
    db = sqlite3.connect(workdir / "floor.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "cache_size=-65536"):
        db.execute(f"PRAGMA {pragma}")
    now = utcnow()
    sqlite_time = column_encoder(sla_clocks.c.due_at, "sqlite")  # as the service stores timestamps
    lead = _lead(0, now)
    clocks = [
        _clock(lead["id"], now - timedelta(hours=1), now - timedelta(seconds=1)) for _ in range(due_count)
    ]
    stamp = sqlite_time(now)
    db.execute(
        "INSERT INTO leads (id, source, external_id, email, profile, activity_counts, stage, fit_score,"
        " engagement_score, created_at, updated_at, engagement_weights) VALUES (?, 'bench', 'l0',"
        " 'l0@bench.example', '{}', '{}', 'sql', 0, 0, ?, ?, '{}')",
        (lead["id"].hex, stamp, stamp),
    )
    db.executemany(
        "INSERT INTO sla_clocks (id, lead_id, obligation, queue, rep_id, state, started_at, due_at,"
        " agreement_version, check_at) VALUES (?, ?, 'first_touch', 'smb', 'rep-1', 'open', ?, ?, 'b@1', ?)",
        [(c["id"].hex, lead["id"].hex, sqlite_time(c["started_at"]), sqlite_time(c["due_at"]),
          sqlite_time(c["due_at"])) for c in clocks],
    )  # fmt: skip
    event = orjson.dumps(
        outbox_row(
            topic="sla.events", event_type="com.leadrouter.sla.breached", cause="c", subject=str(lead["id"]),
            data=clock_event_data({**clocks[0], "state": "breached"}, now, timedelta(hours=1)), at=now,
        )["event"]
    ).decode()  # fmt: skip
    claim = clock_repo.claim_sql("sqlite", breach=True)
    fired = 0
    started = time.perf_counter()
    while True:
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute(claim, (stamp, batch)).fetchall()
        if not rows:
            db.execute("ROLLBACK")
            break
        db.executemany(
            "INSERT INTO outbox (event_id, topic, key, type, event, created_at) VALUES (?, 'sla.events', ?,"
            " 'com.leadrouter.sla.breached', ?, ?)",
            [(f"{row[0]}-breached", row[1], event, stamp) for row in rows],
        )
        db.executemany(
            "INSERT INTO pending_escalations (clock_id, due_at) VALUES (?, ?)",
            [(row[0], row[6]) for row in rows],
        )
        db.execute("COMMIT")
        fired += len(rows)
    elapsed = time.perf_counter() - started
    db.close()
    return {
        "fired": fired,
        "fire_per_s": round(fired / elapsed),
        "us_per_breach": round(elapsed / fired * 1e6, 1),
    }


def main() -> int:
    """Run both databases and APScheduler; print the table and the JSON line."""
    parser = argparse.ArgumentParser(description="leadrouter SLA clock benchmark (see module docstring)")
    parser.add_argument("--clocks", type=int, default=1_000_000, help="Open clocks to schedule per database")
    parser.add_argument("--due", type=int, default=10_000, help="Clocks falling due at once (lag)")
    parser.add_argument("--aps-jobs", type=int, default=50_000, help="Jobs APScheduler schedules")
    parser.add_argument("--aps-due", type=int, default=5_000, help="APScheduler jobs falling due at once")
    parser.add_argument("--databases", default="sqlite,postgresql", help="Comma-separated")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {"bench": "clocks", "clocks": args.clocks, "due": args.due}
    with tempfile.TemporaryDirectory(prefix="leadrouter-clocks-") as tmp:
        workdir = Path(tmp)
        print("APScheduler 3.x, SQLAlchemy job store on SQLite", flush=True)
        aps = bench_apscheduler(workdir, args.aps_jobs, args.aps_due)
        results["apscheduler"] = aps
        for name in args.databases.split(","):
            print(f"{name}: {args.clocks:,} clocks", flush=True)
            if name == "sqlite":
                url = f"sqlite+aiosqlite:///{workdir / 'clocks.db'}"
                upgrade(url)
                ours = asyncio.run(bench_database(url, args.clocks, args.due))
                floor = sqlite_write_floor(workdir, args.due, Settings().clock_batch_size)
                ours["write_floor"] = {
                    **floor,
                    "fire_ratio": round(floor["fire_per_s"] / aps["fire_per_s"], 1),
                }
                print(
                    f"  SQLite's own floor for the same writes: {floor['fire_per_s']:,}/s "
                    f"({ours['write_floor']['fire_ratio']}x APScheduler, "
                    f"{floor['us_per_breach']} µs per breach)",
                    flush=True,
                )
            else:
                from tests.support.components import PostgresCluster  # noqa: PLC0415

                cluster = PostgresCluster(workdir / "pg")
                try:
                    cluster.psql("CREATE DATABASE clocks")
                    upgrade(cluster.url("clocks"))
                    ours = asyncio.run(bench_database(cluster.url("clocks"), args.clocks, args.due))
                finally:
                    cluster.stop()
            ours["schedule_ratio"] = round(ours["schedule_per_s"] / aps["schedule_per_s"], 1)
            ours["fire_ratio"] = round(ours["fire_per_s"] / aps["fire_per_s"], 1)
            results[name] = ours
            results[f"schedule_ratio_{name}"] = ours["schedule_ratio"]
            results[f"fire_ratio_{name}"] = ours["fire_ratio"]
            results[f"lag_p99_s_{name}"] = ours["lag_p99_s"]
            print(
                f"  scheduled {ours['schedule_per_s']:,}/s ({ours['schedule_ratio']}x APScheduler), fired "
                f"{ours['fire_per_s']:,}/s ({ours['fire_ratio']}x), lag p50 {ours['lag_p50_s']} s, "
                f"p99 {ours['lag_p99_s']} s; escalated {ours['escalated_per_s']:,}/s, "
                f"escalation lag p99 {ours['escalation_lag_p99_s']} s",
                flush=True,
            )
    ratios = [results[k] for k in results if k.startswith(("schedule_ratio_", "fire_ratio_"))]
    results["ratio"] = min(ratios)  # the weakest of ours / APScheduler
    results["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(results, default=orjson.dumps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
