"""The SLA clock worker: turns due clocks into breaches, once each, via the outbox.

It claims due clocks in batches (on PostgreSQL with SKIP LOCKED, so replicas share the work without
double breaches), writes an ``sla.breached`` event per clock in the same transaction, and counts
``leadrouter_sla_breaches_total`` after the commit. It sleeps until the next due time or the poll
ceiling, whichever is first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

from schemas.events import SLA_BREACHED
from services import metrics
from services.db import repositories as repo
from services.db.uow import UnitOfWork
from services.events import clock_event_data, outbox_row
from services.settings import Settings
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)


class ClockWorker(BackgroundWorker):
    """Background task that breaches due SLA clocks."""

    task_name = "sla-clock-worker"

    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        now: Callable[[], datetime],
        on_breach: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._uow = uow
        self._settings = settings
        self._now = now
        self._on_breach = on_breach

    async def _run(self) -> None:
        while True:
            try:
                breached = await self.breach_due()
                if breached == self._settings.clock_batch_size:
                    continue
                await asyncio.sleep(await self._seconds_to_next_due())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("clocks.retrying", error=type(error).__name__, detail=str(error)[:300])
                await asyncio.sleep(self._settings.clock_poll_seconds)

    async def _seconds_to_next_due(self) -> float:
        ceiling = self._settings.clock_poll_seconds
        async with self._uow.read() as conn:
            next_due = await repo.next_due_at(conn)
        if next_due is None:
            return ceiling
        return min(ceiling, max(0.0, (next_due - self._now()).total_seconds()))

    async def breach_due(self) -> int:
        """Breach one batch of due clocks; returns how many."""
        now = self._now()
        async with self._uow.transaction() as conn:
            clocks = await repo.claim_due_clocks(conn, now, self._settings.clock_batch_size)
            events = [
                outbox_row(
                    topic=self._settings.topic_sla,
                    event_type=SLA_BREACHED,
                    cause=f"clock:{clock['id']}",
                    subject=str(clock["lead_id"]),
                    data=clock_event_data(clock, now),
                    at=now,
                )
                for clock in clocks
            ]
            await repo.insert_outbox(conn, events)
        for clock in clocks:
            metrics.SLA_BREACHES.labels(clock["queue"] or "", clock["obligation"]).inc()
            metrics.SLA_DETECTION_LAG.observe(max(0.0, (now - clock["due_at"]).total_seconds()))
        if clocks:
            log.info("clocks.breached", count=len(clocks))
            if self._on_breach is not None:
                self._on_breach()
        return len(clocks)
