"""Feedback from Kafka against the real broker: applied once, redelivery changes nothing, bad ones skipped."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from jsonschema import Draft202012Validator

from schemas.asyncapi import asyncapi_document, topic_names
from services.db.tables import lead_events
from services.settings import Settings
from tests.support.app import app_client, runtime_of
from tests.support.components import KafkaBroker
from tests.support.leads import qualified_lead_body


def _settings(db_url: str, agreement: Path, bootstrap: str, topic: str, group: str) -> Settings:
    return Settings(
        database_url=db_url, agreement_path=agreement, kafka_bootstrap_servers=bootstrap,
        topic_feedback=topic, feedback_consumer_group=group, run_clock_worker=False,
        run_assignment_worker=False, run_relay=False,
    )  # fmt: skip


async def _send(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def _until(check: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offsets on ``topic``, summed (read without joining the group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches metadata
        partitions = consumer.partitions_for_topic(topic) or set()
        offsets = [await consumer.committed(TopicPartition(topic, p)) for p in sorted(partitions)]
    finally:
        await consumer.stop()
    return sum(offset or 0 for offset in offsets)


async def test_feedback_from_kafka_is_applied_once(
    db_url: str, agreement_file: Path, kafka: KafkaBroker
) -> None:
    topic, group = f"feedback-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    agreement_file.write_text(
        agreement_file.read_text().replace("PT2S", "PT1H")
    )  # joining a group takes seconds
    settings = _settings(db_url, agreement_file, kafka.bootstrap, topic, group)
    async with app_client(settings) as (client, app):
        lead = (await client.post("/v1/leads", json=qualified_lead_body())).json()
        lead_id = lead["lead_id"]
        touched = {
            "lead_id": lead_id,
            "outcome": "touched",
            "event_id": "crm-activity-1",
            "rep_id": lead["owner"],
        }
        messages = [
            (lead_id, orjson.dumps(touched)),
            (lead_id, b"{not json"),
            (lead_id, orjson.dumps({"lead_id": str(uuid.uuid4()), "outcome": "touched"})),  # unknown lead
            (lead_id, orjson.dumps({"lead_id": lead_id, "outcome": "rejected"})),  # no reason: invalid
            (
                lead_id,
                orjson.dumps({"lead_id": lead_id, "outcome": "converted"}),
            ),  # no event id: keyed by offset
            (lead_id, orjson.dumps(touched)),  # the CRM sent it twice
        ]
        before = _rejected((await client.get("/metrics")).text)
        await _send(kafka.bootstrap, topic, messages)

        async def converted() -> bool:
            detail = (await client.get(f"/v1/leads/{lead_id}")).json()
            return bool(len(detail["timeline"]) >= 3)

        await _until(converted)
        await _until(lambda: _is(_committed(kafka.bootstrap, group, topic), len(messages)))
        detail = (await client.get(f"/v1/leads/{lead_id}")).json()
        exposition = (await client.get("/metrics")).text
        events = await _event_count(app, lead_id)
    assert detail["clocks"][0]["state"] == "met"
    # The AsyncAPI document describes these messages (rules beyond shape, like "rejected needs a reason"
    # and "the lead exists", are checked when they are applied).
    schema = asyncapi_document(topic_names(settings), "test")["components"]["schemas"]["FeedbackMessage"]
    validator = Draft202012Validator(schema)
    assert all(validator.is_valid(orjson.loads(v)) for _, v in messages if v.startswith(b'{"'))
    assert not validator.is_valid({"outcome": "touched"})  # no lead_id
    assert not validator.is_valid({"lead_id": lead_id, "outcome": "liked"})
    assert [entry["kind"] for entry in detail["timeline"]] == ["lead", "feedback", "feedback"]
    assert events == 3
    after = _rejected(exposition)
    assert {p: after[p] - before.get(p, 0) for p in after} == {
        "malformed-json": 1, "lead-not-found": 1, "validation-error": 1,
    }  # fmt: skip
    # Redelivery: a new consumer group reads every message again; nothing changes.
    again = settings.model_copy(update={"feedback_consumer_group": f"{group}-replay"})
    async with app_client(again) as (client, app):
        await _until(lambda: _is(_committed(kafka.bootstrap, f"{group}-replay", topic), len(messages)))
        replayed = (await client.get(f"/v1/leads/{lead_id}")).json()
        assert await _event_count(app, lead_id) == 3
    assert replayed["timeline"] == detail["timeline"]


def _rejected(exposition: str) -> dict[str, float]:
    """leadrouter_feedback_rejected_total by problem, from a Prometheus exposition."""
    prefix = 'leadrouter_feedback_rejected_total{problem="'
    counts = {}
    for line in exposition.splitlines():
        if line.startswith(prefix):
            labels, _, value = line.rpartition(" ")
            counts[labels.removeprefix(prefix).removesuffix('"}')] = float(value)
    return counts


async def _is(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def _event_count(app: Any, lead_id: str) -> int:
    async with runtime_of(app).uow.read() as conn:
        query = sa.select(sa.func.count()).where(lead_events.c.lead_id == uuid.UUID(lead_id))
        return int((await conn.execute(query)).scalar_one())
