"""The outbox relay against a real Kafka-protocol broker (Tansu)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from services.clock import utcnow
from services.db import repositories as repo
from services.db.tables import outbox
from services.db.uow import UnitOfWork
from services.settings import Settings
from services.workers.relay import OutboxRelay
from tests.support.app import app_client, runtime_of
from tests.support.components import KafkaBroker, running_broker
from tests.support.kafka import consume
from tests.support.leads import lead_body, qualified_lead_body


def _settings(db_url: str, agreement: Path, bootstrap: str) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        database_url=db_url,
        agreement_path=agreement,
        kafka_bootstrap_servers=bootstrap,
        topic_handoff=f"handoff-{suffix}",
        topic_lifecycle=f"lifecycle-{suffix}",
        topic_sla=f"sla-{suffix}",
        run_clock_worker=False,
        relay_poll_seconds=0.2,
    )


async def _outbox_rows(client_app: Any) -> list[dict[str, Any]]:
    async with runtime_of(client_app).uow.read() as conn:
        result = await conn.execute(
            sa.select(outbox.c.id, outbox.c.event_id, outbox.c.key, outbox.c.published_at)
        )
        return [dict(r) for r in result.mappings()]


async def _post_leads_with_activity(client: httpx.AsyncClient, count: int) -> None:
    created = await asyncio.gather(*(client.post("/v1/leads", json=lead_body()) for _ in range(count)))
    assert {r.status_code for r in created} == {201}
    ids = [r.json()["lead_id"] for r in created]
    # two events per lead (stage change, handoff) in one transaction, then one more stage change
    replies = await asyncio.gather(
        *(client.post(f"/v1/leads/{i}/activities", json={"type": "demo_request"}) for i in ids)
    )
    assert {r.status_code for r in replies} == {202}
    more = await asyncio.gather(
        *(client.post(f"/v1/leads/{i}/activities", json={"type": "webinar_attended"}) for i in ids)
    )
    assert {r.status_code for r in more} == {202}


async def test_every_event_arrives_once_in_order_per_key(
    db_url: str, agreement_file: Path, kafka: KafkaBroker
) -> None:
    settings = _settings(db_url, agreement_file, kafka.bootstrap)
    topics = [settings.topic_handoff, settings.topic_lifecycle]
    async with app_client(settings) as (client, app):
        await _post_leads_with_activity(client, 30)
        rows = await _outbox_rows(app)
        expected = {r["event_id"] for r in rows}
        messages = await consume(
            kafka.bootstrap, topics, lambda got: {m["event"]["id"] for m in got} >= expected, timeout=30
        )
        for _ in range(50):  # the relay marks rows after the broker acknowledged them
            if all(r["published_at"] is not None for r in await _outbox_rows(app)):
                break
            await asyncio.sleep(0.1)
        published = await _outbox_rows(app)
        exposition = (await client.get("/metrics")).text
        ready = await client.get("/readyz")
    ids = [m["event"]["id"] for m in messages]
    assert len(ids) == len(set(ids)) == len(expected)  # once per id
    order_in_outbox = {r["event_id"]: r["id"] for r in rows}
    by_key: dict[str, list[int]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m["topic"], m["partition"], m["offset"])):
        assert message["key"] == message["event"]["subject"]
        by_key[(message["topic"], message["key"])].append(order_in_outbox[message["event"]["id"]])  # type: ignore[index]
    assert all(seq == sorted(seq) for seq in by_key.values())
    assert all(r["published_at"] is not None for r in published)
    assert "leadrouter_outbox_pending 0.0" in exposition
    assert ready.status_code == 200
    assert ready.json()["checks"]["kafka"] == "ok"


async def test_broker_outage_keeps_ingest_up_and_backlog_drains(
    db_url: str, agreement_file: Path, tmp_path: Path
) -> None:
    with running_broker(tmp_path) as broker:
        settings = _settings(db_url, agreement_file, broker.bootstrap)
        async with app_client(settings) as (client, app):
            first = await client.post("/v1/leads", json=qualified_lead_body())
            assert first.status_code == 201
            broker.stop()
            during = await asyncio.gather(
                *(client.post("/v1/leads", json=qualified_lead_body()) for _ in range(10))
            )
            assert {r.status_code for r in during} == {201}  # ingest does not depend on Kafka
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {"database": "ok", "kafka": "unreachable"}
            backlog = [r for r in await _outbox_rows(app) if r["published_at"] is None]
            assert len(backlog) >= 20  # 2 events per lead posted during the outage
            pending_during = await _pending_gauge(client, lambda value: value >= len(backlog))
            assert pending_during >= len(backlog)  # the backlog metric rises while Kafka is down
            broker.start()  # same port, empty in-memory log
            backlog_ids = {r["event_id"] for r in backlog}
            messages = await consume(
                broker.bootstrap,
                [settings.topic_handoff, settings.topic_lifecycle],
                lambda got: {m["event"]["id"] for m in got} >= backlog_ids,
                timeout=60,
            )
            for _ in range(100):
                if all(r["published_at"] is not None for r in await _outbox_rows(app)):
                    break
                await asyncio.sleep(0.2)
            rows = await _outbox_rows(app)
            assert await _pending_gauge(client, lambda value: value == 0) == 0  # and falls once drained
    assert {m["event"]["id"] for m in messages} >= backlog_ids
    assert all(r["published_at"] is not None for r in rows)
    # at least once: a message sent twice (acknowledged, then the relay retried) is the same event
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        by_id[message["event"]["id"]].append(message["event"])
    assert set(by_id) <= {r["event_id"] for r in rows}
    assert all(all(copy == copies[0] for copy in copies) for copies in by_id.values())


async def _pending_gauge(
    client: httpx.AsyncClient, until: Callable[[float], bool], timeout: float = 40
) -> float:
    """``leadrouter_outbox_pending`` once ``until`` holds for it (or its last value after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        exposition = (await client.get("/metrics")).text
        line = next(x for x in exposition.splitlines() if x.startswith("leadrouter_outbox_pending "))
        value = float(line.split()[1])
        if until(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def _unpublished(uow: UnitOfWork) -> int:
    async with uow.read() as conn:
        return await repo.count_unpublished(conn)


async def test_a_stop_finishes_the_batch_in_flight_then_drains_the_outbox(
    uow: UnitOfWork, db_url: str, agreement_file: Path, kafka: KafkaBroker
) -> None:
    """Stopped mid-stream, the relay marks what the broker acknowledged and publishes the rest within
    its drain time: nothing is left for a restart to send a second time."""
    settings = _settings(db_url, agreement_file, kafka.bootstrap).model_copy(update={"relay_batch_size": 50})
    event_ids = [str(uuid.uuid4()) for _ in range(5000)]
    now = utcnow()
    rows = [
        {
            "event_id": i,
            "topic": settings.topic_handoff,
            "key": i,
            "type": "test",
            "event": {"id": i},
            "created_at": now,
            "published_at": None,
        }
        for i in event_ids
    ]
    async with uow.transaction() as conn:
        await repo.insert_outbox(conn, rows)
    relay = OutboxRelay(uow, settings, utcnow)
    relay.start()
    while await _unpublished(uow) == len(event_ids):
        await asyncio.sleep(0.005)
    left_at_stop = await _unpublished(uow)
    await relay.stop()
    assert left_at_stop > 0  # the stop came while the relay was publishing
    assert await _unpublished(uow) == 0
    # Every message is on the broker already (acks=all): read for 3 s, or until one too many arrives.
    messages = await consume(
        kafka.bootstrap, [settings.topic_handoff], lambda got: len(got) > len(event_ids), timeout=3
    )
    assert sorted(m["event"]["id"] for m in messages) == sorted(event_ids)
