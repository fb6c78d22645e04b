"""Manual routing actions of sales operations: reassign a lead, pause or resume a queue, set a rep
out of office.

Each runs in one transaction, locking in the ingest order (the lead, then rep states), records a
decision with the reason, and emits what sales tools need (``lead.handed_off`` to the new owner).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.events import LEAD_HANDED_OFF
from services.agreement_lifecycle import ActiveAgreement
from services.assignment import BatchAssigner, assignment_decision
from services.db import rep_load
from services.db import repositories as repo
from services.db.uow import UnitOfWork
from services.errors import DomainError
from services.events import handoff_event_data, outbox_row
from services.settings import Settings


class ManualActions:
    """Reassign leads and pause queues on behalf of a person (their reason is recorded)."""

    def __init__(
        self, uow: UnitOfWork, settings: Settings, agreements: ActiveAgreement, now: Callable[[], datetime]
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.agreements = agreements
        self.now = now

    async def reassign(self, lead_id: uuid.UUID, rep_id: str, reason: str | None) -> dict[str, Any]:
        """Give a routed, open lead to another member of its queue; returns the lead row."""
        now = self.now()
        async with self.uow.transaction() as conn:
            found = await repo.leads_by_id(conn, [lead_id], lock=True)
            if not found:
                raise DomainError(404, "lead-not-found", "Lead not found", f"no lead with id {lead_id}")
            lead = found[0]
            if lead["queue"] is None or lead["closed_at"] is not None:
                raise DomainError(
                    409, "lead-not-routed", "Lead not in a queue",
                    f"lead {lead_id} is not waiting in or assigned from a queue (stage {lead['stage']})",
                )  # fmt: skip
            agreement = await self.agreements.current(conn)
            plan = agreement.queue_plans.get(lead["queue"])
            if plan is None or rep_id not in {rep for rep, _ in plan.members}:
                raise DomainError(
                    422, "rep-not-in-queue", "Rep not in the lead's queue",
                    f"'{rep_id}' is not a member of queue {lead['queue']} in {agreement.version}",
                )  # fmt: skip
            previous = lead["owner"]
            if previous == rep_id:
                return lead
            assigner = BatchAssigner(conn, agreement, now)
            await assigner.load([], [rep_id, *([previous] if previous else [])])
            assigner.give(rep_id)
            if previous is not None:
                assigner.release(previous)
            await assigner.save()
            due = await repo.reassign_lead(conn, lead_id, rep_id, now)
            cause = f"reassign:{lead_id}:{now.isoformat()}"
            detail = f"reassigned by hand from {previous or 'nobody'}" + (f": {reason}" if reason else "")
            explanation = [{"rule": f"rep.{rep_id}", "kind": "assign", "points": 0, "detail": detail}]
            decision = assignment_decision(
                lead, cause=cause, version=agreement.version, queue=lead["queue"], owner=rep_id,
                explanation=explanation, at=now,
            )  # fmt: skip
            await repo.insert_decisions(conn, [decision])
            data = handoff_event_data(lead, lead["queue"], rep_id, due or now, agreement.version)
            await repo.insert_outbox(
                conn,
                [outbox_row(
                    topic=self.settings.topic_handoff, event_type=LEAD_HANDED_OFF, cause=cause,
                    subject=str(lead_id), data=data, at=now,
                )],
            )  # fmt: skip
        return {**lead, "owner": rep_id, "updated_at": now}

    async def pause_queue(self, queue_id: str, paused: bool, reason: str | None) -> dict[str, Any]:
        """Pause (new and waiting leads stay unassigned) or resume a queue; returns its row."""
        async with self.uow.transaction() as conn:
            if not await rep_load.set_queue_paused(conn, queue_id, paused, reason, self.now()):
                raise DomainError(404, "queue-not-found", "Queue not found", f"no queue with id {queue_id}")
            (row,) = [q for q in await rep_load.list_queues(conn) if q["id"] == queue_id]
        return row

    async def set_availability(
        self, rep_id: str, until: datetime | None, reason: str | None
    ) -> dict[str, Any]:
        """Set a rep out of office until ``until`` (no new leads meanwhile), or back with ``None``;
        returns the rep's row."""
        async with self.uow.transaction() as conn:
            if not await rep_load.set_out_of_office(conn, rep_id, until, reason, self.now()):
                raise DomainError(404, "rep-not-found", "Rep not found", f"no rep with id {rep_id}")
            (row,) = await rep_load.list_reps(conn, rep_id)
        return row
