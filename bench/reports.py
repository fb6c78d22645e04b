"""Report benchmark: the SLA report over a year of history with 1,000,000 stored lead events.

Run from the repository root::

    .venv/bin/python bench/reports.py [--events 1000000] [--databases sqlite,postgresql]

For SQLite and PostgreSQL (an embedded server, as the tests start it), on a freshly migrated database,
seed twelve months of history: ``--events`` lead events (per lead one upsert, three activities and
one feedback), a lead per five events, two or three decisions per lead, three clocks per handed-off
lead (30 % of leads), and their handoff and unassigned events in the outbox. Then time, best of 3:

- the report of one month, ungrouped and grouped by queue;
- the report of the whole year;
- the month's report again without the time indexes of migrations 0010, 0012 and 0013 (the baseline: the
  same queries scanning the history), so ``ratio`` = baseline / ours for the month.

The last line is one JSON object with the figures per database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.events import LEAD_HANDED_OFF, LEAD_UNASSIGNED
from services.agreements import load_agreement
from services.db import repositories as repo
from services.db.engine import create_engine
from services.db.tables import decisions, lead_events, leads, outbox, sla_clocks
from services.db.uow import UnitOfWork
from services.events import outbox_row
from services.migrate import upgrade
from services.reports import Window, sla_report
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = load_agreement(ROOT / "deploy/agreements/example.yaml")
START = datetime(2025, 12, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
MONTH = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
NOW = datetime(2026, 6, 16, tzinfo=UTC)
QUEUES = [(q.id, [r.id for r in q.reps]) for q in AGREEMENT.document.queues if q.reps]
INDEXES = [
    "ix_leads_created_at", "ix_lead_events_feedback_received_at", "ix_decisions_decided_at",
    "ix_outbox_unassigned_created_at", "ix_outbox_handed_off_created_at",
    "ix_sla_clocks_first_touch_started_at", "ix_sla_clocks_closed_at",
    "ix_sla_clocks_warned_at", "ix_sla_clocks_fulfilled_at",
]  # fmt: skip
BATCH = 20_000


def history(events: int, seed: int = 7) -> dict[sa.Table, list[dict[str, Any]]]:
    """Deterministic synthetic history with ``events`` lead events."""
    rng = random.Random(seed)
    rows: dict[sa.Table, list[dict[str, Any]]] = {
        t: [] for t in (leads, lead_events, decisions, sla_clocks, outbox)
    }
    for n in range(events // 5):
        created = START + YEAR * rng.random()
        lead_id = uuid.UUID(int=n + 1)
        handed = rng.random() < 0.3
        queue, reps = QUEUES[n % len(QUEUES)]
        rep = reps[n % len(reps)] if handed and rng.random() < 0.95 else None
        profile = {
            "company": f"Co {n}", "country": rng.choice(["DE", "FR", "US", "AT"]),
            "employees": rng.choice([50, 500, 2000]), "industry": rng.choice(["software", None]),
        }  # fmt: skip
        rows[leads].append({
            "id": lead_id, "source": rng.choice(["hubspot", "salesforce", "webform"]), "external_id": str(n),
            "email": f"l{n}@example.org", "company": profile["company"], "profile": profile,
            "activity_counts": {}, "stage": "mql" if handed else "engaged", "fit_score": 0,
            "engagement_score": 0,
            "queue": queue if handed else None, "owner": rep, "agreement_version": AGREEMENT.version,
            "last_activity_at": None, "created_at": created, "updated_at": created, "engagement_weights": {},
            "engagement_as_of": None, "closed_at": None, "recycled_count": 0, "account_key": None,
        })  # fmt: skip
        for k, kind in enumerate(["lead", "activity", "activity", "activity", "feedback"]):
            at = created + timedelta(hours=k * 6)
            payload = {"outcome": rng.choice(["accepted", "rejected", "touched"]), "reason": "no_budget"} \
                if kind == "feedback" else {"type": "page_view"}  # fmt: skip
            rows[lead_events].append({
                "event_key": f"{n}:{k}", "request_hash": "0" * 64, "lead_id": lead_id, "kind": kind,
                "payload": payload, "response": {"status": 202}, "received_at": at,
            })  # fmt: skip
        steps = [("new", "engaged", None, None)] + ([("engaged", "mql", queue, rep)] if handed else [])
        if handed and rng.random() < 0.3:
            steps.append(("mql", "sql", queue, rep))
        for k, (before, after, in_queue, owner) in enumerate(steps):
            rows[decisions].append({
                "lead_id": lead_id, "event_key": f"{n}:{k}", "agreement_version": AGREEMENT.version,
                "from_stage": before, "to_stage": after, "fit_score": 0, "engagement_score": 0,
                "queue": in_queue,
                "owner": owner, "explanation": [], "decided_at": created + timedelta(hours=k * 6),
            })  # fmt: skip
        if not handed:
            continue
        started = created + timedelta(hours=6)
        for obligation in ("first_touch", "attempts", "decision"):
            met = rng.random() < 0.8
            closed = started + timedelta(hours=rng.uniform(0.5, 30))
            rows[sla_clocks].append({
                "id": uuid.uuid4(), "lead_id": lead_id, "obligation": obligation, "queue": queue,
                "rep_id": rep, "state": "met" if met else "breached", "started_at": started,
                "due_at": started + timedelta(hours=4),
                "closed_at": closed, "agreement_version": AGREEMENT.version, "warn_at": None,
                "warned_at": closed if rng.random() < 0.2 else None, "check_at": started, "calendar": None,
                "paused_at": None, "paused_seconds": 0.0, "attempts_made": 2, "attempts_required": 3,
                "fulfilled_at": closed if met else None,
            })  # fmt: skip
        if rep is None:
            rows[outbox].append(_event(lead_id, LEAD_UNASSIGNED, started))
        else:
            rows[outbox].append(_event(lead_id, LEAD_HANDED_OFF, started))
    return rows


def _event(lead_id: uuid.UUID, event_type: str, at: datetime) -> dict[str, Any]:
    row = outbox_row(topic="leads.handoff", event_type=event_type, cause=f"{lead_id}:{event_type}",
                     subject=str(lead_id), data={"lead_id": str(lead_id)}, at=at)  # fmt: skip
    return {**row, "published_at": at}


async def seed(uow: UnitOfWork, rows: dict[sa.Table, list[dict[str, Any]]]) -> float:
    """Insert the history in batches; seconds taken."""
    started = time.perf_counter()
    for table, table_rows in rows.items():
        for first in range(0, len(table_rows), BATCH):
            async with uow.transaction() as conn:
                await repo.insert_rows(conn, table, table_rows[first : first + BATCH])
    async with uow.transaction() as conn:
        if conn.dialect.name == "postgresql":
            for table in rows:
                await conn.execute(sa.text(f"ANALYZE {table.name}"))
        else:
            await conn.execute(sa.text("ANALYZE"))
    return time.perf_counter() - started


async def timed(uow: UnitOfWork, window: Window, group_by: str | None, rounds: int = 3) -> float:
    """Best of ``rounds`` report times, in seconds."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        async with uow.read() as conn:
            await sla_report(conn, AGREEMENT, window, group_by)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - started)
    return best


async def bench_database(url: str, events: int) -> dict[str, Any]:
    """Seed one database and time its reports."""
    engine = create_engine(Settings(database_url=url))
    uow = UnitOfWork(engine)
    rows = history(events)
    seeded = await seed(uow, rows)
    month = Window(*MONTH, NOW)
    figures: dict[str, Any] = {
        "rows": {table.name: len(r) for table, r in rows.items()},
        "seed_s": round(seeded, 1),
        "month_s": round(await timed(uow, month, None), 3),
        "month_by_queue_s": round(await timed(uow, month, "queue"), 3),
        "year_s": round(await timed(uow, Window(START, START + YEAR, NOW), None, rounds=1), 3),
    }
    async with uow.read() as conn:
        report = await sla_report(conn, AGREEMENT, month, None)
    figures["month_mqls"] = report.groups[0].marketing.mqls
    async with uow.transaction() as conn:
        for name in INDEXES:
            await conn.execute(sa.text(f"DROP INDEX {name}"))
    figures["month_without_indexes_s"] = round(await timed(uow, month, None, rounds=1), 3)
    figures["ratio"] = round(figures["month_without_indexes_s"] / figures["month_s"], 1)
    await engine.dispose()
    return figures


def main() -> int:
    """Run the benchmark; print a table line per database and the JSON summary."""
    parser = argparse.ArgumentParser(description="leadrouter report benchmark (see module docstring)")
    parser.add_argument("--events", type=int, default=1_000_000, help="Stored lead events")
    parser.add_argument("--databases", default="sqlite,postgresql", help="Comma-separated")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {"bench": "reports", "events": args.events}
    with tempfile.TemporaryDirectory(prefix="leadrouter-reports-") as tmp:
        workdir = Path(tmp)
        for name in args.databases.split(","):
            if name == "sqlite":
                url = f"sqlite+aiosqlite:///{workdir / 'reports.db'}"
                upgrade(url)
                figures = asyncio.run(bench_database(url, args.events))
            else:
                from tests.support.components import PostgresCluster  # noqa: PLC0415

                cluster = PostgresCluster(workdir / "pg")
                try:
                    cluster.psql("CREATE DATABASE reports")
                    upgrade(cluster.url("reports"))
                    figures = asyncio.run(bench_database(cluster.url("reports"), args.events))
                finally:
                    cluster.stop()
            results[name] = figures
            print(
                f"{name}: {args.events:,} events seeded in {figures['seed_s']} s; month report "
                f"{figures['month_s']} s (by queue {figures['month_by_queue_s']} s), "
                f"year {figures['year_s']} s; "
                f"without the time indexes {figures['month_without_indexes_s']} s ({figures['ratio']}x)",
                flush=True,
            )
    results["ratio"] = min(results[name]["ratio"] for name in args.databases.split(","))
    results["month_s"] = max(results[name]["month_s"] for name in args.databases.split(","))
    results["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
