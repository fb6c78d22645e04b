"""Escalation of breached SLA clocks: run by the clock worker right after the breach, in a transaction
of its own (the breach left a pending mark; taking the mark and escalating commit together, so each
breach escalates once).

For each breach the agreement's escalation chain gives the step for that lead's n-th breach of the
obligation (``router.sla.escalation_for``); its actions run here:

- ``reassign: next_rep``: the next eligible rep of the lead's queue (never the one who missed it) gets
  the lead, with a new clock for the obligation on that rep's calendar (its other clocks follow it);
- ``move_to_queue``: the lead goes to another queue and is assigned there (or waits in it): its clocks
  in the old queue are cancelled, and the new queue's start as at a handoff;
- ``mark_rep_unavailable``: the rep who missed it takes no new leads until set available again;
- ``notify`` and ``remediation``: carried in the ``sla.escalated`` event for sales tools to act on.

Every escalation writes one ``sla.escalated`` event with what was done; a reassignment also writes a
decision (with the reason) and ``lead.handed_off`` (or ``lead.unassigned``) for the new owner. Leads are
locked before they change, in id order, as the ingest path does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from router.agreement import CompiledAgreement
from router.sla import FIRST_TOUCH
from schemas.agreement import Escalation
from schemas.events import LEAD_HANDED_OFF, LEAD_UNASSIGNED, SLA_ESCALATED
from services.assignment import BatchAssigner, assignment_decision, skipped_reasons
from services.db import clocks as clock_repo
from services.db import rep_load
from services.db import repositories as repo
from services.events import handoff_event_data, outbox_row
from services.settings import Settings
from services.sla_clocks import handoff_clocks, start_clock

# ``mark_rep_unavailable`` lasts until someone sets the rep available again (PUT .../availability).
UNTIL_SET_AVAILABLE = datetime(9999, 12, 31, tzinfo=UTC)

Row = dict[str, Any]


@dataclass
class Escalated:
    """What one batch of escalations wrote and did (for the outbox and the metrics)."""

    events: list[Row] = field(default_factory=list)
    actions: list[tuple[str, str, str]] = field(default_factory=list)  # (queue, obligation, action)


class Escalator:
    """Runs the escalation steps of a batch of breached clocks on one connection and agreement."""

    def __init__(
        self, conn: AsyncConnection, agreement: CompiledAgreement, settings: Settings, now: datetime
    ) -> None:
        self.conn = conn
        self.agreement = agreement
        self.settings = settings
        self.now = now
        self.result = Escalated()
        self._unavailable: dict[str, str] = {}  # rep -> reason, written after the assigner saves
        # the batch's writes, made once for all its leads (one statement each, not one per lead)
        self._moves: list[Row] = []
        self._clocks: list[Row] = []
        self._leaving: list[Any] = []  # leads moved to another queue: their live clocks are cancelled
        self._decisions: list[Row] = []

    async def escalate(self, breached: list[Row]) -> Escalated:
        """Escalate each of ``breached`` (breached clock rows) per the agreement."""
        if not breached or not self.agreement.document.escalations:
            return self.result
        numbers = await clock_repo.breach_numbers(self.conn, breached)
        steps: list[tuple[Row, Escalation, int]] = []
        for clock in sorted(breached, key=lambda c: (c["lead_id"], c["due_at"], c["id"])):
            breaches = numbers[clock["id"]]
            step = self.agreement.escalation(clock["obligation"], breaches)
            if step is not None:
                steps.append((clock, step, breaches))
        if not steps:
            return self.result
        leads = {
            lead["id"]: lead
            for lead in await repo.leads_by_id(
                self.conn, [clock["lead_id"] for clock, _, _ in steps], lock=True
            )
        }
        queues = {
            queue
            for clock, step, _ in steps
            for queue in self._queues_of(step, leads.get(clock["lead_id"]))
            if queue in self.agreement.queue_plans
        }
        owners = {lead["owner"] for lead in leads.values() if lead["owner"] is not None}
        assigner = BatchAssigner(self.conn, self.agreement, self.now)
        await assigner.load(sorted(queues), sorted(owners))
        for clock, step, breaches in steps:
            lead = leads.get(clock["lead_id"])
            if lead is not None:
                self._run_step(clock, step, breaches, lead, assigner)
        await clock_repo.cancel_live_clocks(self.conn, self._leaving, self.now)
        await repo.move_leads(self.conn, self._moves)
        await clock_repo.insert_clocks(self.conn, self._clocks)
        await repo.insert_decisions(self.conn, self._decisions)
        await assigner.save()  # first: it creates the state rows of reps that had none
        for rep, reason in self._unavailable.items():
            if not await rep_load.set_out_of_office(self.conn, rep, UNTIL_SET_AVAILABLE, reason, self.now):
                await rep_load.ensure_rep_states(self.conn, [rep], self.now)
                await rep_load.set_out_of_office(self.conn, rep, UNTIL_SET_AVAILABLE, reason, self.now)
        return self.result

    @staticmethod
    def _queues_of(step: Escalation, lead: Row | None) -> list[str]:
        queues = [action.move_to_queue for action in step.actions if action.move_to_queue]
        if lead is not None and lead["queue"] and any(action.reassign for action in step.actions):
            queues.append(lead["queue"])
        return queues

    def _run_step(
        self, clock: Row, step: Escalation, breaches: int, lead: Row, assigner: BatchAssigner
    ) -> None:
        rep = clock["rep_id"]
        done: list[Row] = []
        for action in step.actions:
            if action.notify:
                done.append({"action": "notify", "role": action.notify})
            elif action.remediation:
                done.append({"action": "remediation", "text": action.remediation})
            elif action.mark_rep_unavailable:
                done.append(self._mark_unavailable(rep, clock, assigner))
            elif action.reassign or action.move_to_queue:
                done.append(self._move(clock, breaches, lead, action.move_to_queue, assigner))
        for outcome in done:
            self.result.actions.append((clock["queue"] or "", clock["obligation"], outcome["action"]))
        data = {
            "lead_id": str(clock["lead_id"]), "clock_id": str(clock["id"]),
            "obligation": clock["obligation"], "breaches": breaches, "queue": clock["queue"],
            "rep_id": rep, "due_at": clock["due_at"].isoformat(), "actions": done,
            "agreement_version": self.agreement.version, "at": self.now.isoformat(),
        }  # fmt: skip
        self.result.events.append(
            outbox_row(
                topic=self.settings.topic_sla, event_type=SLA_ESCALATED, cause=f"escalation:{clock['id']}",
                subject=str(clock["lead_id"]), data=data, at=self.now,
            )
        )  # fmt: skip

    def _mark_unavailable(self, rep: str | None, clock: Row, assigner: BatchAssigner) -> Row:
        if rep is None:
            return {"action": "mark_rep_unavailable", "rep_id": None, "skipped": "the lead had no rep"}
        self._unavailable[rep] = f"escalation: missed {clock['obligation']} of lead {clock['lead_id']}"
        assigner.set_away(rep)  # no lead of this batch goes to it either
        return {"action": "mark_rep_unavailable", "rep_id": rep}

    def _move(
        self, clock: Row, breaches: int, lead: Row, to_queue: str | None, assigner: BatchAssigner
    ) -> Row:
        """Reassign within the lead's queue (``to_queue`` None) or move it to ``to_queue``."""
        name = "move_to_queue" if to_queue else "reassign"
        if lead["closed_at"] is not None or lead["queue"] is None:
            return {"action": name, "skipped": "the lead is no longer in a queue"}
        if lead["owner"] != clock["rep_id"]:
            return {"action": name, "skipped": "the lead has changed hands since the clock started"}
        queue = to_queue or lead["queue"]
        if queue not in self.agreement.queue_plans:
            return {"action": name, "skipped": f"queue {queue} is not in {self.agreement.version}"}
        previous = lead["owner"]
        assignment = assigner.assign(queue, exclude={previous} if previous else ())  # never back to it
        rep = assignment.rep_id
        if rep is None and not to_queue:
            return {"action": name, "rep_id": None, "skipped": "no other rep of the queue is eligible"}
        if previous is not None:
            assigner.release(previous)
        self._moves.append({"b_id": lead["id"], "b_queue": queue, "b_owner": rep, "b_at": self.now})
        if queue != lead["queue"]:  # it leaves its queue: its clocks there end, the new queue's start
            self._leaving.append(lead["id"])
            started = handoff_clocks(self.agreement, lead["id"], queue, rep, self.now)
        else:  # a new owner in the same queue: a new clock for what was missed; the others follow
            restarted = start_clock(
                self.agreement, clock["obligation"], lead_id=lead["id"], queue=queue, rep_id=rep, now=self.now
            )
            started = [restarted] if restarted is not None else []
        self._clocks += started
        due = next((c["due_at"] for c in started if c["obligation"] == FIRST_TOUCH), None)
        cause = f"escalation:{clock['id']}"
        detail = f"breach {breaches} of {clock['obligation']} by {previous or 'nobody'}: {name}"
        explanation = [{"rule": f"escalation.{clock['obligation']}.{breaches}", "kind": "escalate",
                        "points": 0, "detail": detail}]  # fmt: skip
        explanation += skipped_reasons(assignment)
        self._decisions.append(
            assignment_decision(
                lead, cause=cause, version=self.agreement.version, queue=queue, owner=rep,
                explanation=explanation, at=self.now,
            )
        )  # fmt: skip
        lead.update(queue=queue, owner=rep, updated_at=self.now)
        self.result.events.append(self._handoff_event(lead, rep, due, cause, assignment.strategy))
        return {"action": name, "queue": queue, "from_rep_id": previous, "rep_id": rep}

    def _handoff_event(
        self, lead: Row, rep: str | None, due: datetime | None, cause: str, strategy: str
    ) -> Row:
        lead_id, queue = str(lead["id"]), lead["queue"]
        if rep is not None:
            event_type = LEAD_HANDED_OFF
            data = handoff_event_data(lead, queue, rep, due, self.agreement.version)
        else:
            event_type = LEAD_UNASSIGNED
            data = {"lead_id": lead_id, "queue": queue, "strategy": strategy, "skipped": [],
                    "agreement_version": self.agreement.version}  # fmt: skip
        return outbox_row(
            topic=self.settings.topic_handoff, event_type=event_type, cause=cause, subject=lead_id,
            data=data, at=self.now,
        )  # fmt: skip
