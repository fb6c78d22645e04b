"""Assign a batch's handed-off leads to reps, inside the batch's transaction.

Loads (and locks) the credits of the queues that receive leads and the state of their reps, builds
each rep's load (open leads, new leads today in the rep's time zone, out of office, working hours,
capacity from the agreement), runs ``router.assignment.assign`` lead by lead in batch order, and
writes credits and counts back. Leads closed in the batch (converted, disqualified, rejected) come
off their owner's open count in the same step.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from router.agreement import CompiledAgreement
from router.assignment import Assignment, Member, RepLoad, assign
from services.db import rep_load


class BatchAssigner:
    """``load`` the state once, ``assign`` and ``release`` in batch order, ``save`` once."""

    def __init__(self, conn: AsyncConnection, agreement: CompiledAgreement, now: datetime) -> None:
        self.conn = conn
        self.agreement = agreement
        self.now = now
        self._credits: dict[tuple[str, str], int] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self._loads: dict[str, RepLoad] = {}
        self._members: dict[str, list[Member]] = {}
        self._paused: set[str] = set()

    async def load(self, queues: Sequence[str], owners: Sequence[str]) -> None:
        """Lock and read the memberships of ``queues`` and the state of their reps and ``owners``."""
        self._credits = await rep_load.lock_credits(self.conn, queues)
        self._paused = await rep_load.paused_queues(self.conn, queues) if queues else set()
        plans = {queue: self.agreement.queue_plans[queue] for queue in queues}
        rep_ids = {rep for plan in plans.values() for rep, _ in plan.members} | set(owners)
        self._states = await rep_load.lock_rep_states(self.conn, rep_ids)
        self._loads = {rep: self._load(rep, self._states.get(rep)) for rep in rep_ids}
        self._members = {
            queue: [
                Member(rep, weight, self._credits.get((queue, rep), 0), self._loads[rep])
                for rep, weight in plan.members
            ]
            for queue, plan in plans.items()
        }

    def assign(
        self, queue: str, account_owner: str | None = None, exclude: Collection[str] = ()
    ) -> Assignment:
        """The rep of ``queue`` who gets the next lead (``rep_id`` None: nobody is eligible);
        ``account_owner`` first when the queue is sticky and that rep is eligible; never a rep in
        ``exclude``."""
        plan = self.agreement.queue_plans[queue]
        if queue in self._paused:
            return Assignment(None, plan.strategy, tuple((rep, "queue paused") for rep, _ in plan.members))
        members = (
            [m for m in self._members[queue] if m.rep_id not in exclude] if exclude else self._members[queue]
        )
        return assign(members, plan.strategy, account_owner if plan.sticky_accounts else None)

    def set_away(self, rep_id: str) -> None:
        """The rep was marked unavailable in this transaction: no more leads for it."""
        load = self._loads.get(rep_id)
        if load is not None:
            load.out_of_office = True

    def give(self, rep_id: str) -> None:
        """A lead was given to the rep by hand (capacity is the manager's call)."""
        load = self._loads[rep_id]
        load.open_leads += 1
        load.new_today += 1

    def release(self, rep_id: str) -> None:
        """One of the rep's open leads was closed."""
        load = self._loads.get(rep_id)
        if load is not None:
            load.open_leads = max(0, load.open_leads - 1)

    async def save(self) -> None:
        """Write changed credits and rep counts."""
        credits = {
            (queue, member.rep_id): member.credit
            for queue, members in self._members.items()
            for member in members
        }
        await rep_load.save_credits(
            self.conn, {k: v for k, v in credits.items() if self._credits.get(k) != v}
        )
        await rep_load.ensure_rep_states(self.conn, sorted(set(self._loads) - set(self._states)), self.now)
        await rep_load.save_rep_states(
            self.conn,
            [
                {"rep_id": rep, "open_leads": load.open_leads, "new_today": load.new_today,
                 "new_on": self._today(rep), "updated_at": self.now}
                for rep, load in self._loads.items()
                if _changed(load, self._states.get(rep), self._today(rep))
            ],
        )  # fmt: skip

    def _today(self, rep_id: str) -> date:
        calendar = self.agreement.calendar_of(rep_id)
        return calendar.local(self.now).date() if calendar is not None else self.now.astimezone(UTC).date()

    def _load(self, rep_id: str, state: dict[str, Any] | None) -> RepLoad:
        rep = self.agreement.reps.get(rep_id)
        calendar = self.agreement.calendar_of(rep_id)
        state = state or {}
        away_until = state.get("out_of_office_until")
        return RepLoad(
            open_leads=int(state.get("open_leads") or 0),
            new_today=int(state.get("new_today") or 0) if state.get("new_on") == self._today(rep_id) else 0,
            max_open_leads=rep.max_open_leads if rep is not None else None,
            max_new_per_day=rep.max_new_per_day if rep is not None else None,
            active=rep is not None and rep.active,  # a rep the agreement dropped takes no new leads
            out_of_office=away_until is not None and away_until > self.now,
            working=calendar is None or calendar.is_working(self.now),
        )


def skipped_reasons(assignment: Assignment) -> list[dict[str, Any]]:
    """Explanation entries (``skipped.<rep>`` with the reason) for the reps an assignment passed over."""
    return [
        {"rule": f"skipped.{rep}", "kind": "assign", "points": 0, "detail": reason}
        for rep, reason in assignment.skipped
    ]


def assignment_decision(
    lead: dict[str, Any], *, cause: str, version: str, queue: str, owner: str | None,
    explanation: list[dict[str, Any]], at: datetime,
) -> dict[str, Any]:  # fmt: skip
    """A decision row recording that ``lead`` (its stage unchanged) went to ``owner`` in ``queue``."""
    return {
        "lead_id": lead["id"], "event_key": cause, "agreement_version": version,
        "from_stage": lead["stage"], "to_stage": lead["stage"], "fit_score": lead["fit_score"],
        "engagement_score": lead["engagement_score"], "queue": queue, "owner": owner,
        "explanation": explanation, "decided_at": at,
    }  # fmt: skip


def _changed(load: RepLoad, state: dict[str, Any] | None, today: date) -> bool:
    if state is None:
        return True
    return (load.open_leads, load.new_today, today) != (
        state["open_leads"],
        state["new_today"],
        state["new_on"],
    )
