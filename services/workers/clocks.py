"""The SLA clock worker: warns clocks past their warning time and breaches due ones, once each, and
runs the agreement's escalation for each breach (``services.escalation``) in the same transaction.

It claims clocks whose check time has come in batches (on PostgreSQL with SKIP LOCKED, so replicas
share the work without doubles), writes an ``sla.warning`` or ``sla.breached`` event per clock in the
same transaction (with the time used so far, counted on the clock's working calendar), and counts
``leadrouter_sla_warnings_total`` / ``leadrouter_sla_breaches_total`` after the commit. It sleeps until
the next check time or the poll ceiling, whichever is first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from router.agreement import CompiledAgreement
from schemas.events import SLA_BREACHED, SLA_WARNING
from services import metrics
from services.agreement_lifecycle import ActiveAgreement
from services.db import repositories as repo
from services.db.uow import UnitOfWork
from services.escalation import Escalator
from services.events import clock_event_data, outbox_row
from services.settings import Settings
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)

_COUNT_EVERY_SECONDS = 15.0  # how often the open-clock gauges are recounted


class ClockWorker(BackgroundWorker):
    """Background task that breaches due SLA clocks."""

    task_name = "sla-clock-worker"

    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        agreements: ActiveAgreement,
        now: Callable[[], datetime],
        on_breach: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._uow = uow
        self._settings = settings
        self._agreements = agreements
        self._now = now
        self._on_breach = on_breach

    async def _run(self) -> None:
        counted_at = -_COUNT_EVERY_SECONDS
        while True:
            try:
                checked = await self.check_due()
                metrics.CLOCK_WORKER_LAST_CHECK.set(time.time())
                if time.monotonic() - counted_at >= _COUNT_EVERY_SECONDS:
                    await self.count_open()
                    counted_at = time.monotonic()
                if checked == self._settings.clock_batch_size:
                    continue
                await asyncio.sleep(await self._seconds_to_next_due())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("clocks.retrying", error=type(error).__name__, detail=str(error)[:300])
                await asyncio.sleep(self._settings.clock_poll_seconds)

    async def count_open(self) -> dict[str, int]:
        """Count the open clocks by state into ``leadrouter_sla_open_clocks`` (the same on every replica)."""
        async with self._uow.read() as conn:
            counts = await repo.count_open_clocks(conn)
        for state in ("open", "warned"):
            metrics.SLA_OPEN_CLOCKS.labels(state).set(counts.get(state, 0))
        return counts

    async def _seconds_to_next_due(self) -> float:
        ceiling = self._settings.clock_poll_seconds
        async with self._uow.read() as conn:
            next_due = await repo.next_check_at(conn)
        if next_due is None:
            return ceiling
        return min(ceiling, max(0.0, (next_due - self._now()).total_seconds()))

    async def check_due(self) -> int:
        """Warn or breach one batch of clocks whose check time has come; returns how many."""
        now = self._now()
        async with self._uow.transaction() as conn:
            agreement = await self._agreements.current(conn)
            warned, breached = await repo.claim_due_clocks(conn, now, self._settings.clock_batch_size)
            events = [
                self._event(clock, event_type, now, agreement)
                for clocks, event_type in ((warned, SLA_WARNING), (breached, SLA_BREACHED))
                for clock in clocks
            ]
            escalated = await Escalator(conn, agreement, self._settings, now).escalate(breached)
            await repo.insert_outbox(conn, events + escalated.events)
        for clock in warned:
            metrics.SLA_WARNINGS.labels(clock["queue"] or "", clock["obligation"]).inc()
        for clock in breached:
            metrics.SLA_BREACHES.labels(clock["queue"] or "", clock["obligation"]).inc()
            metrics.SLA_DETECTION_LAG.observe(max(0.0, (now - clock["due_at"]).total_seconds()))
        for queue, obligation, action in escalated.actions:
            metrics.SLA_ESCALATIONS.labels(queue, obligation, action).inc()
        if events:
            log.info("clocks.checked", warned=len(warned), breached=len(breached))
            if self._on_breach is not None:
                self._on_breach()
        return len(events)

    def _event(
        self, clock: dict[str, Any], event_type: str, now: datetime, agreement: CompiledAgreement
    ) -> dict[str, Any]:
        used = agreement.clock_time_used(clock["started_at"], now, clock["calendar"])
        return outbox_row(
            topic=self._settings.topic_sla,
            event_type=event_type,
            cause=f"clock:{clock['id']}",
            subject=str(clock["lead_id"]),
            data=clock_event_data(clock, now, used),
            at=now,
        )
