"""The outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

Rows are read oldest first and sent keyed by lead id (so one lead's events share a partition and
stay ordered); a row is marked published only after the broker acknowledged it (acks=all). A row
is never deleted before that. On PostgreSQL a transaction-scoped advisory lock lets exactly one
replica publish at a time, which keeps per-key order across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection

from services import metrics
from services.db import repositories as repo
from services.db.uow import UnitOfWork
from services.settings import Settings
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)

_ADVISORY_LOCK_KEY = 0x6C7260  # "lr`": the outbox relay's lock
_MAX_BACKOFF_SECONDS = 5.0
_BACKLOG_COUNT_SECONDS = 1.0
_REQUEST_TIMEOUT_MS = 15_000


def create_producer(settings: Settings) -> AIOKafkaProducer:
    """An aiokafka producer for the outbox: acks=all, batched, retrying."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=_REQUEST_TIMEOUT_MS,
        retry_backoff_ms=200,
    )


class OutboxRelay(BackgroundWorker):
    """Background task moving outbox rows to Kafka; ``wake()`` after a commit shortens its wait."""

    task_name = "outbox-relay"

    def __init__(self, uow: UnitOfWork, settings: Settings, now: Callable[[], datetime]) -> None:
        super().__init__()
        self._uow = uow
        self._settings = settings
        self._now = now
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._counted_at = float("-inf")  # monotonic time the backlog was last counted
        self._drain_until: float | None = None  # set by stop(): publish until then, then end

    def wake(self) -> None:
        """Tell the relay new rows were committed."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop cleanly: finish the batch being sent (so a restart does not send it again), go on
        publishing the outbox for up to ``relay_drain_seconds``, then close the producer. Rows not
        yet acknowledged stay in the outbox for the next start."""
        self._drain_until = time.monotonic() + self._settings.relay_drain_seconds
        self._wake.set()
        if self._task is not None:
            # A batch in flight waits at most the producer's request timeout for its acks.
            limit = self._settings.relay_drain_seconds + _REQUEST_TIMEOUT_MS / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), limit)
        await super().stop()
        await self._close_producer()

    def _stopping(self) -> bool:
        return self._drain_until is not None

    async def broker_reachable(self) -> bool:
        """Whether the broker answers a metadata request within two seconds."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 2.0)
        except Exception:
            return False
        return True

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _run(self) -> None:
        backoff = 0.1
        while self._drain_until is None or time.monotonic() < self._drain_until:
            try:
                if self._producer is None:
                    producer = create_producer(self._settings)
                    try:
                        await producer.start()
                    except BaseException:
                        with contextlib.suppress(Exception):
                            await producer.stop()
                        raise
                    self._producer = producer
                    log.info("relay.connected")
                _, full = await self.publish_batch()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:
                metrics.OUTBOX_PUBLISH_FAILURES.inc()
                if self._stopping():
                    log.warning("relay.stopped_with_backlog", error=type(error).__name__)
                    return
                log.warning(
                    "relay.retrying", error=type(error).__name__, detail=str(error)[:300], backoff=backoff
                )
                await self._report_backlog()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            if full:
                continue
            if self._stopping():
                return  # the outbox is drained
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.relay_poll_seconds)

    async def publish_batch(self) -> tuple[int, bool]:
        """Publish one batch of the oldest unpublished rows; returns (published, batch was full)."""
        assert self._producer is not None
        limit = self._settings.relay_batch_size
        failure: BaseException | None = None
        async with self._uow.transaction() as conn:
            if conn.dialect.name == "postgresql":
                locked = await conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(_ADVISORY_LOCK_KEY)))
                if not locked:
                    return 0, False
            rows = await repo.unpublished(conn, limit)
            if not rows:
                metrics.OUTBOX_PENDING.set(0)
                return 0, False
            pending = await self._count_backlog(conn, full=len(rows) == limit)
            if pending is not None:  # before sending: a broker outage shows in the gauge at once
                metrics.OUTBOX_PENDING.set(pending)
            delivered, failure = await self._send(rows)
            now = self._now()
            await repo.mark_published(conn, [row["id"] for row in delivered], now)
        for row in delivered:
            metrics.OUTBOX_PUBLISHED.labels(row["topic"]).inc()
            metrics.OUTBOX_PUBLISH_LAG.observe(max(0.0, (now - row["created_at"]).total_seconds()))
        if pending is not None:
            metrics.OUTBOX_PENDING.set(pending - len(delivered))
        if failure is not None:
            raise failure
        return len(delivered), len(rows) == limit

    async def _report_backlog(self) -> None:
        """Count the backlog while publishing fails (the broker may be down since the start)."""
        if time.monotonic() - self._counted_at < _BACKLOG_COUNT_SECONDS:
            return
        self._counted_at = time.monotonic()
        try:
            async with self._uow.read() as conn:
                metrics.OUTBOX_PENDING.set(await repo.count_unpublished(conn))
        except Exception:  # the database may be down too: the gauge keeps its last value
            log.debug("relay.backlog_uncounted")

    async def _count_backlog(self, conn: AsyncConnection, *, full: bool) -> int | None:
        """The unpublished rows left, for ``leadrouter_outbox_pending``: counted after every batch
        that drained the backlog, and at most once a second while a large backlog drains (counting
        a deep backlog after every batch cost about a tenth of the relay's throughput)."""
        if full and time.monotonic() - self._counted_at < _BACKLOG_COUNT_SECONDS:
            return None
        self._counted_at = time.monotonic()
        return await repo.count_unpublished(conn)

    async def _send(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], BaseException | None]:
        """Send rows; return those acknowledged, keeping per-key order: after a key's first failure,
        none of its later rows count as delivered (they are sent again, in order, next time)."""
        assert self._producer is not None
        futures = []
        for row in rows:
            value = row["event_json"].encode()
            futures.append(await self._producer.send(row["topic"], value=value, key=row["key"].encode()))
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        failed_keys: set[str] = set()
        delivered = []
        failure: BaseException | None = None
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, BaseException) or row["key"] in failed_keys:
                failed_keys.add(row["key"])
                if isinstance(outcome, BaseException) and failure is None:
                    failure = outcome
                continue
            delivered.append(row)
        return delivered, failure
