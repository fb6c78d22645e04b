"""Read what reached the broker: a fresh consumer group from the earliest offset."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer


async def consume(
    bootstrap: str,
    topics: list[str],
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Consume ``topics`` from the beginning until ``until(messages)`` holds or ``timeout`` passes.

    Each message is ``{"topic", "key", "partition", "offset", "event"}`` with the decoded CloudEvent.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(messages) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            messages.extend(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "offset": record.offset,
                    "key": record.key.decode() if record.key else None,
                    "event": orjson.loads(record.value),
                }
                for tp, records in batches.items()
                for record in records
            )
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return messages
