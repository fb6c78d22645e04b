"""The feedback consumer: sales tools' feedback from Kafka (``leads.feedback``), applied like the API's.

Each message is a JSON object: ``lead_id`` plus the fields of ``POST /v1/leads/{id}/feedback``
(``outcome``, ``reason``, ``rep_id``, ``event_id`` ...). Messages go through the same committer as
HTTP requests, so they are validated, applied and committed in group-commit batches, and are
idempotent: by ``event_id`` when the message has one, else by topic, partition and offset (a
redelivered message is the same message). Offsets are committed only after every message of a
poll is committed to the database; if the database is unavailable the consumer rewinds to the last
committed offsets and tries again, so nothing consumed is lost. A message that can never apply
(not JSON, invalid, unknown lead) is logged and counted in ``leadrouter_feedback_rejected_total``
and skipped, so one bad message cannot block the partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Protocol

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from services import metrics
from services.errors import DomainError
from services.ingest import Reply
from services.ingest_request import IngestRequest
from services.settings import Settings
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)
_MAX_BACKOFF_SECONDS = 5.0


class Ingest(Protocol):
    """What the consumer hands messages to (the service's committer)."""

    async def ingest(self, request: IngestRequest) -> Reply:
        """Validate and apply ``request``; return once it is committed (or raise a ``DomainError``)."""


class _RetryError(Exception):
    """The database did not take a message; rewind and try the poll again."""


def to_request(record: ConsumerRecord[bytes, bytes]) -> IngestRequest:
    """The ingest request of one feedback message (``DomainError`` 400/422 if it is not one)."""
    try:
        message = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError as error:
        raise DomainError(400, "malformed-json", "Malformed JSON", f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise DomainError(422, "validation-error", "Invalid request", "a feedback message is a JSON object")
    try:
        lead_id = uuid.UUID(str(message.pop("lead_id")))
    except (KeyError, ValueError):
        raise DomainError(
            422, "validation-error", "Invalid request", "lead_id must be a lead's UUID"
        ) from None
    key = f"kafka:{record.topic}:{record.partition}:{record.offset}"
    return IngestRequest("feedback", orjson.dumps(message), lead_id, key)


class FeedbackConsumer(BackgroundWorker):
    """Background task consuming ``LEADROUTER_TOPIC_FEEDBACK`` in consumer group ``..._GROUP``."""

    task_name = "feedback-consumer"

    def __init__(self, settings: Settings, committer: Ingest) -> None:
        super().__init__()
        self._settings = settings
        self._committer = committer

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            consumer = AIOKafkaConsumer(
                self._settings.topic_feedback,
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                client_id=self._settings.kafka_client_id,
                group_id=self._settings.feedback_consumer_group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                while True:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                    records = [record for records in batches.values() for record in records]
                    if not records:
                        continue
                    try:
                        await self._apply(records)
                    except _RetryError:
                        await consumer.seek_to_committed()
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                        continue
                    await consumer.commit()  # only now: every message of the poll is in the database
                    backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("feedback.retrying", error=type(error).__name__, detail=str(error)[:300])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _apply(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply a poll's messages (in order, through group commit); raise ``_RetryError`` on a 5xx."""
        outcomes = await asyncio.gather(*(self._one(record) for record in records))
        if any(outcome == "retry" for outcome in outcomes):
            raise _RetryError

    async def _one(self, record: ConsumerRecord[bytes, bytes]) -> str:
        try:
            reply = await self._committer.ingest(to_request(record))
        except DomainError as error:
            if error.status >= 500:
                log.warning("feedback.database_unavailable", status=error.status, slug=error.slug)
                return "retry"
            metrics.FEEDBACK_REJECTED.labels(error.slug).inc()
            log.warning(
                "feedback.rejected", topic=record.topic, partition=record.partition, offset=record.offset,
                status=error.status, slug=error.slug, detail=error.detail[:300],
                errors=[e.model_dump() for e in error.errors][:5],
            )  # fmt: skip
            return "rejected"
        return "duplicate" if reply.replayed else "applied"


__all__ = ["FeedbackConsumer", "to_request"]
