"""The SLA clock worker: warns clocks past their warning time and breaches due ones, once each, then
runs the agreement's escalation of each breach (``services.escalation``) in a transaction of its own.

It claims clocks whose check time has come in batches (on PostgreSQL with SKIP LOCKED, so replicas
share the work without doubles), writes an ``sla.warning`` or ``sla.breached`` event per clock in the
same transaction (with the time used so far, counted on the clock's working calendar), and counts
``leadrouter_sla_warnings_total`` / ``leadrouter_sla_breaches_total`` after the commit. A breach whose
obligation the agreement escalates leaves a pending mark in that transaction; escalations run when no
more clocks are due (or at least every second under a flood of breaches), so detection is never held
up by the reassignments that follow it. It sleeps until the next check time or the poll ceiling,
whichever is first.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from router.agreement import CompiledAgreement
from schemas.events import SLA_BREACHED, SLA_WARNING
from services import metrics
from services.agreement_lifecycle import ActiveAgreement
from services.db import clocks as clock_repo
from services.db import repositories as repo
from services.db.uow import UnitOfWork
from services.escalation import Escalator
from services.events import clock_event_data, outbox_row
from services.settings import Settings
from services.sla_clocks import time_used
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)

_COUNT_EVERY_SECONDS = 15.0  # how often the open-clock gauges are recounted
_ESCALATE_EVERY_SECONDS = 1.0  # escalations run at least this often while breaches keep coming


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
        self._escalations_queued = False  # this worker left pending escalations since its last pass

    async def _run(self) -> None:
        counted_at = -_COUNT_EVERY_SECONDS
        batch = self._settings.clock_batch_size
        escalated_at = time.monotonic()
        flood_since: float | None = None  # when the current run of full breach batches began
        while True:
            try:
                busy = await self.check_due() >= batch  # a full batch of breaches or of warnings
                metrics.CLOCK_WORKER_LAST_CHECK.set(time.time())
                now = time.monotonic()
                flood_since = (flood_since or now) if busy else None
                if self._escalate_now(busy, now, escalated_at, flood_since):
                    self._escalations_queued = False
                    more = await self.escalate_pending() == batch
                    self._escalations_queued = more  # a full batch: more may be pending
                    busy = busy or more
                    escalated_at = time.monotonic()
                    flood_since = escalated_at if busy else None  # the next second of a flood starts now
                if time.monotonic() - counted_at >= _COUNT_EVERY_SECONDS:
                    await self.count_open()
                    counted_at = time.monotonic()
                if busy:
                    continue
                await asyncio.sleep(await self._seconds_to_next_due())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("clocks.retrying", error=type(error).__name__, detail=str(error)[:300])
                await asyncio.sleep(self._settings.clock_poll_seconds)

    def _escalate_now(self, busy: bool, now: float, escalated_at: float, flood_since: float | None) -> bool:
        """Whether to run pending escalations now: once no more clocks are due, if this worker queued
        some (or, for other replicas' marks, a poll interval has passed); during a flood of breaches,
        at least every second."""
        if busy:
            return flood_since is not None and now - flood_since >= _ESCALATE_EVERY_SECONDS
        return self._escalations_queued or now - escalated_at >= self._settings.clock_poll_seconds

    async def count_open(self) -> dict[str, int]:
        """Count the live clocks by state into ``leadrouter_sla_open_clocks``, and the breaches waiting
        for their escalation into ``leadrouter_sla_escalations_pending`` (the same on every replica)."""
        async with self._uow.read() as conn:
            counts = await clock_repo.count_open_clocks(conn)
            pending = await clock_repo.count_pending_escalations(conn)
        for state in ("open", "warned", "paused"):
            metrics.SLA_OPEN_CLOCKS.labels(state).set(counts.get(state, 0))
        metrics.SLA_ESCALATIONS_PENDING.set(pending)
        return counts

    async def _seconds_to_next_due(self) -> float:
        ceiling = self._settings.clock_poll_seconds
        async with self._uow.read() as conn:
            next_due = await clock_repo.next_check_at(conn)
        if next_due is None:
            return ceiling
        # Never less than the minimum wait: clocks falling due within it are handled together, in one
        # transaction, instead of one transaction (and one fsync) each as they come.
        wait = min(ceiling, (next_due - self._now()).total_seconds())
        return max(self._settings.clock_min_wait_seconds, wait)

    async def check_due(self) -> int:
        """Warn or breach one batch of clocks whose check time has come; returns how many."""
        now = self._now()
        async with self._uow.transaction() as conn:
            agreement = await self._agreements.current(conn)
            warned, breached = await clock_repo.claim_due_clocks(conn, now, self._settings.clock_batch_size)
            events = [
                self._event(clock, event_type, now, agreement)
                for clocks, event_type in ((warned, SLA_WARNING), (breached, SLA_BREACHED))
                for clock in clocks
            ]
            await repo.insert_outbox(conn, events)
            escalating = [clock for clock in breached if agreement.escalates(clock["obligation"])]
            await clock_repo.queue_escalations(conn, escalating)
        self._escalations_queued = self._escalations_queued or bool(escalating)
        for counter, clocks in ((metrics.SLA_WARNINGS, warned), (metrics.SLA_BREACHES, breached)):
            for (queue, obligation), count in Counter(
                (c["queue"] or "", c["obligation"]) for c in clocks
            ).items():
                counter.labels(queue, obligation).inc(count)
        for clock in breached:
            metrics.SLA_DETECTION_LAG.observe(max(0.0, (now - clock["due_at"]).total_seconds()))
        if events:
            log.info("clocks.checked", warned=len(warned), breached=len(breached))
            if self._on_breach is not None:
                self._on_breach()
        return len(events)

    async def escalate_pending(self) -> int:
        """Run the escalation of one batch of breaches whose escalation is pending; returns how many."""
        now = self._now()
        async with self._uow.transaction() as conn:
            agreement = await self._agreements.current(conn)
            breached = await clock_repo.claim_pending_escalations(conn, self._settings.clock_batch_size)
            escalated = await Escalator(conn, agreement, self._settings, now).escalate(breached)
            await repo.insert_outbox(conn, escalated.events)
        for (queue, obligation, action), count in Counter(escalated.actions).items():
            metrics.SLA_ESCALATIONS.labels(queue, obligation, action).inc(count)
        if breached:
            log.info("clocks.escalated", breaches=len(breached), actions=len(escalated.actions))
        return len(breached)

    def _event(
        self, clock: dict[str, Any], event_type: str, now: datetime, agreement: CompiledAgreement
    ) -> dict[str, Any]:
        data = clock_event_data(clock, now, time_used(agreement, clock, now))
        return outbox_row(
            topic=self._settings.topic_sla, event_type=event_type, cause=f"clock:{data['clock_id']}",
            subject=data["lead_id"], data=data, at=now,
        )  # fmt: skip
