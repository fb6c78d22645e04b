"""Handoff benchmark: the outbox relay's throughput to the broker next to a raw aiokafka producer.

Run from the repository root::

    .venv/bin/python bench/handoff.py [--events 100000] [--rounds 2]

It starts a Kafka-protocol broker (Tansu, as the tests do), fills a fresh SQLite outbox with
``--events`` realistic ``lead.handed_off`` events (distinct lead keys), then alternates, for
``--rounds`` rounds: a raw ``AIOKafkaProducer`` (the relay's own producer settings: acks=all,
linger 5 ms) sending the same serialized events as fast as it can, and ``OutboxRelay`` draining the
outbox (read in batches, send, wait for the acknowledgements, mark published, commit). Each runs on a
fresh topic. It checks the relay published every row exactly once and reports the median round's
events/s and ratio; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.events import LEAD_HANDED_OFF  # noqa: E402
from services.clock import utcnow  # noqa: E402
from services.db import repositories as repo  # noqa: E402
from services.db.engine import create_engine  # noqa: E402
from services.db.tables import outbox  # noqa: E402
from services.db.uow import UnitOfWork  # noqa: E402
from services.events import handoff_event_data, outbox_row  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.workers.relay import OutboxRelay, create_producer  # noqa: E402
from tests.support.components import running_broker  # noqa: E402

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def handoff_rows(count: int, topic: str) -> list[dict[str, Any]]:
    """``count`` outbox rows of lead.handed_off events, one lead each, as ingest writes them."""
    rows = []
    for n in range(count):
        lead = {
            "id": uuid.uuid4(), "source": "hubspot", "external_id": f"contact-{n}",
            "email": f"buyer{n}@example-corp.com", "company": f"Example Corp {n % 977}", "stage": "mql",
            "fit_score": 40 + n % 60, "engagement_score": n % 100,
        }  # fmt: skip
        data = handoff_event_data(
            lead, "enterprise-dach", f"rep-{n % 7}", T0 + timedelta(hours=4), "acme-sla@1"
        )
        rows.append(
            outbox_row(
                topic=topic, event_type=LEAD_HANDED_OFF, cause=f"bench:{n}", subject=str(lead["id"]),
                data=data, at=T0,
            )
        )  # fmt: skip
    return rows


async def fill_outbox(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """Insert the rows as unpublished outbox rows."""
    for start in range(0, len(rows), 5000):
        async with uow.transaction() as conn:
            await repo.insert_outbox(conn, [dict(row) for row in rows[start : start + 5000]])


async def run_raw(settings: Settings, topic: str, rows: list[dict[str, Any]]) -> float:
    """Seconds for a raw producer to send (and get acknowledged) every event."""
    messages = [(orjson.dumps(row["event"]), row["key"].encode()) for row in rows]
    producer = create_producer(settings)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value=value, key=key) for value, key in messages]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def run_relay(settings: Settings, uow: UnitOfWork) -> float:
    """Seconds for the relay to publish every pending outbox row."""
    relay = OutboxRelay(uow, settings, utcnow)
    started = time.perf_counter()
    relay.start()
    try:
        while True:
            async with uow.read() as conn:
                if await repo.count_unpublished(conn) == 0:
                    return time.perf_counter() - started
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()


async def published_once(uow: UnitOfWork, count: int) -> bool:
    """Every row is marked published."""
    async with uow.read() as conn:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one()
        pending = await repo.count_unpublished(conn)
    return bool(total == count and pending == 0)


async def one_round(url: str, events: int, bootstrap: str) -> dict[str, float]:
    """One round on a migrated database at ``url``: the raw producer, then the relay."""
    topic = f"handoff-{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=url, kafka_bootstrap_servers=bootstrap, relay_poll_seconds=0.05)
    engine = create_engine(settings)
    try:
        uow = UnitOfWork(engine)
        rows = handoff_rows(events, topic)
        await fill_outbox(uow, rows)
        raw_s = await run_raw(settings, f"raw-{topic}", rows)
        relay_s = await run_relay(settings, uow)
        if not await published_once(uow, events):
            raise SystemExit("BENCHMARK FAILED: the relay left rows unpublished")
    finally:
        await engine.dispose()
    return {"raw_per_s": events / raw_s, "relay_per_s": events / relay_s, "ratio": raw_s / relay_s}


def main() -> int:
    """Start the broker, run the rounds, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description="leadrouter handoff benchmark (see module docstring)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="leadrouter-handoff-") as tmp,
        running_broker(Path(tmp)) as broker,
    ):
        started = time.perf_counter()
        for round_number in range(1, args.rounds + 1):
            url = f"sqlite+aiosqlite:///{Path(tmp) / f'outbox-{round_number}.db'}"
            upgrade(url)  # Alembic runs its own event loop
            result = asyncio.run(one_round(url, args.events, broker.bootstrap))
            print(
                f"  round {round_number}: raw producer {result['raw_per_s']:,.0f} events/s, "
                f"relay {result['relay_per_s']:,.0f} events/s, ratio {result['ratio']:.3f}",
                flush=True,
            )
            results.append(result)
        wall = time.perf_counter() - started
    median = sorted(results, key=lambda r: r["ratio"])[len(results) // 2]
    outcome = {"ratios": [round(r["ratio"], 4) for r in results]}
    print(
        f"{args.events} events per round, {args.rounds} rounds; relay {median['relay_per_s']:,.0f} events/s, "
        f"raw producer {median['raw_per_s']:,.0f} events/s, ratio {median['ratio']:.3f} (target >= 0.5)"
    )
    print(json.dumps({
        "bench": "handoff", "events": args.events, "relay_per_s": round(median["relay_per_s"]),
        "baseline_per_s": round(median["raw_per_s"]), "ratio": round(median["ratio"], 4),
        "ratios": outcome["ratios"], "rounds": args.rounds,
        "wall_s": round(wall, 1),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
