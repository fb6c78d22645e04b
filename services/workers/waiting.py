"""The waiting-leads worker: assigns leads that wait in a queue as soon as a rep can take them.

A lead waits when nobody in its queue was eligible (capacity, daily limit, out of office, outside
working hours). Every ``LEADROUTER_ASSIGNMENT_POLL_SECONDS`` (or at once when woken, e.g. after a rep
comes back) the worker takes the oldest waiting leads (on PostgreSQL with SKIP LOCKED, so replicas
share the work), assigns them with the queue's strategy in one transaction, and emits
``lead.handed_off`` for each; the decision records the assignment and its explanation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from router.assignment import Assignment
from schemas.events import LEAD_HANDED_OFF
from services import metrics
from services.agreement_lifecycle import ActiveAgreement
from services.assignment import BatchAssigner, assignment_decision, skipped_reasons
from services.db import repositories as repo
from services.db.uow import UnitOfWork
from services.events import handoff_event_data, outbox_row
from services.settings import Settings
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)


class WaitingLeadsWorker(BackgroundWorker):
    """Background task that assigns waiting leads once a rep of their queue is eligible."""

    task_name = "waiting-leads-worker"

    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        agreements: ActiveAgreement,
        now: Callable[[], datetime],
        on_assigned: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._uow = uow
        self._settings = settings
        self._agreements = agreements
        self._now = now
        self._on_assigned = on_assigned
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look now (a rep came back, a lead was closed)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                if await self.assign_waiting() == self._settings.assignment_batch_size:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("waiting.retrying", error=type(error).__name__, detail=str(error)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.assignment_poll_seconds)
            self._wake.clear()

    async def assign_waiting(self) -> int:
        """Assign one batch of waiting leads where someone is eligible; returns how many were looked at."""
        now = self._now()
        assigned: list[str] = []
        async with self._uow.transaction() as conn:
            waiting = await repo.lock_waiting_leads(conn, self._settings.assignment_batch_size)
            if not waiting:
                return 0
            agreement = await self._agreements.current(conn)
            by_queue: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for lead in waiting:
                if lead["queue"] in agreement.queue_plans:  # a queue a newer version dropped: keeps waiting
                    by_queue[lead["queue"]].append(lead)
            assigner = BatchAssigner(conn, agreement, now)
            await assigner.load(list(by_queue), [])
            decisions, events = [], []
            for queue, leads in by_queue.items():
                for lead in leads:
                    assignment = assigner.assign(queue)
                    if assignment.rep_id is None:
                        break  # nobody in this queue can take a lead now
                    due = await repo.assign_waiting(conn, lead["id"], assignment.rep_id, now)
                    decision, event = self._handed_off(lead, assignment, due or now, agreement.version, now)
                    decisions.append(decision)
                    events.append(event)
                    assigned.append(queue)
            await assigner.save()
            await repo.insert_decisions(conn, decisions)
            await repo.insert_outbox(conn, events)
        for queue in assigned:
            metrics.HANDOFFS.labels(queue).inc()
        if assigned:
            log.info("waiting.assigned", count=len(assigned))
            if self._on_assigned is not None:
                self._on_assigned()
        return len(waiting)

    def _handed_off(
        self, lead: dict[str, Any], assignment: Assignment, due: datetime, version: str, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The decision row and the ``lead.handed_off`` outbox row of one assignment."""
        rep, queue = assignment.rep_id, lead["queue"]
        explanation = skipped_reasons(assignment)
        explanation.append(
            {"rule": f"rep.{rep}", "kind": "assign", "points": 0, "detail": assignment.strategy}
        )
        cause = f"assigned-from-queue:{lead['id']}"
        decision = assignment_decision(
            lead, cause=cause, version=version, queue=queue, owner=rep, explanation=explanation, at=now
        )
        event = outbox_row(
            topic=self._settings.topic_handoff, event_type=LEAD_HANDED_OFF, cause=cause,
            subject=str(lead["id"]), data=handoff_event_data(lead, queue, rep, due, version), at=now,
        )  # fmt: skip
        return decision, event
