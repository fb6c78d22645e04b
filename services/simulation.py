"""What-if replay: the stored lead events of a window under a candidate agreement, against what
actually happened (the stored decisions). Reads only: nothing is written, no event is published."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from router.agreement import CompiledAgreement
from router.replay import ReplayedLead, ReplayEvent, replay_lead
from router.reports import share
from router.stages import reached
from schemas.leads import ActivityIn, FeedbackIn, LeadIn, LeadProfile
from schemas.simulation import ChangedLead, QueueVolume, RepLoad, SegmentVolume, Simulation, Volume
from services.db import replay as store
from services.db.bulk import chunks
from services.reports import Window

Row = dict[str, Any]
EXAMPLES = 20
_META = frozenset({"source", "external_id", "event_id", "occurred_at", "stage"})


async def simulate(conn: AsyncConnection, candidate: CompiledAgreement, window: Window) -> Simulation:
    """Replay every lead with an event in the window (its whole history up to the window's end) under
    ``candidate`` and compare with the stored decisions."""
    start, end = window.start, window.end
    tally = _Tally(candidate, window)
    for chunk in chunks(await store.leads_with_events(conn, start, end)):
        history = await store.histories(conn, chunk, end)
        events: dict[Any, list[ReplayEvent]] = defaultdict(list)
        for row in history["events"]:
            event = replay_event(row)
            if event is not None:
                events[row["lead_id"]].append(event)
        decided: dict[Any, list[Row]] = defaultdict(list)
        for row in history["decisions"]:
            decided[row["lead_id"]].append(row)
        for lead in history["leads"]:
            replayed = replay_lead(candidate, lead["created_at"], events[lead["id"]])
            tally.add(lead, replayed, decided[lead["id"]], len(events[lead["id"]]))
    return tally.simulation()


def replay_event(row: Row) -> ReplayEvent | None:
    """A stored event as the replay takes it (``None``: not one the replay can use)."""
    payload, at = row["payload"], row["received_at"]
    try:
        if row["kind"] == "lead":
            if "fields" in payload and "email" not in payload:  # a webhook change: only the fields it set
                profile = LeadProfile.model_validate(payload["fields"])
                changes = profile.model_dump(include=profile.model_fields_set - _META)
                return ReplayEvent("lead", at, changes, profile.stage)
            lead = LeadIn.model_validate(payload)
            return ReplayEvent("lead", at, lead.model_dump(include=lead.model_fields_set - _META), lead.stage)
        if row["kind"] == "activity":
            activity = ActivityIn.model_validate(payload)
            return ReplayEvent("activity", at, activity=activity.type, occurred_at=activity.occurred_at)
        if row["kind"] == "feedback":
            return ReplayEvent("feedback", at, outcome=FeedbackIn.model_validate(payload).outcome)
    except (ValidationError, TypeError):
        return None
    return None


class _Tally:
    """The counts of the replay and of what happened, lead by lead."""

    def __init__(self, candidate: CompiledAgreement, window: Window) -> None:
        self.candidate = candidate
        self.window = window
        self.leads = 0
        self.events = 0
        self.mqls = [0, 0]  # actual, candidate
        self.sqls = [0, 0]
        self.segments: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.queues: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.stage_changed = 0
        self.queue_changed = 0
        self.examples: list[ChangedLead] = []

    def add(self, lead: Row, replayed: ReplayedLead, decided: list[Row], events: int) -> None:
        """Count one lead: its actual decisions and its replay."""
        candidate, start, end = self.candidate, self.window.start, self.window.end
        self.leads += 1
        self.events += events
        inside = [d for d in decided if d["decided_at"] >= start]
        actual_mqls = sum(
            not reached(d["from_stage"], "mql") and reached(d["to_stage"], "mql") for d in inside
        )
        candidate_mqls = sum(start <= at < end for at in replayed.mql_entries)
        self.mqls[0] += actual_mqls
        self.mqls[1] += candidate_mqls
        self.sqls[0] += sum(d["from_stage"] != "sql" and d["to_stage"] == "sql" for d in inside)
        self.sqls[1] += sum(start <= at < end for at in replayed.sql_entries)
        segments = candidate.segments(replayed.facts(candidate, end, lead["created_at"]), end)
        for segment in segments:
            self.segments[segment][0] += actual_mqls
            self.segments[segment][1] += candidate_mqls
        previous = None
        for decision in decided:
            if decision["queue"] is not None and previous is None and decision["decided_at"] >= start:
                self.queues[decision["queue"]][0] += 1
            previous = decision["queue"]
        for at, queue in replayed.routed:
            if start <= at < end:
                self.queues[queue][1] += 1
        actual_stage = decided[-1]["to_stage"] if decided else "new"
        actual_queue = decided[-1]["queue"] if decided else None
        stage_differs = actual_stage != replayed.stage
        queue_differs = actual_queue != replayed.queue
        self.stage_changed += stage_differs
        self.queue_changed += queue_differs
        if (stage_differs or queue_differs) and len(self.examples) < EXAMPLES:
            self.examples.append(ChangedLead(
                lead_id=lead["id"], actual_stage=actual_stage, candidate_stage=replayed.stage,
                actual_queue=actual_queue, candidate_queue=replayed.queue,
            ))  # fmt: skip

    def simulation(self) -> Simulation:
        """The comparison."""
        candidate, window = self.candidate, self.window
        days = (window.end - window.start).total_seconds() / 86400
        loads = []
        for queue in candidate.document.queues:
            active = [rep for rep in queue.reps if rep.active]
            total = sum(rep.weight for rep in active)
            for rep in active:
                projected = self.queues[queue.id][1] * (share(rep.weight, total) or 0.0)
                capacity = round(rep.max_new_per_day * days) if rep.max_new_per_day else None
                loads.append(RepLoad(
                    queue=queue.id, rep_id=rep.id, projected=round(projected, 1), capacity=capacity,
                    over_capacity=capacity is not None and projected > capacity,
                ))  # fmt: skip
        return Simulation(
            candidate_version=candidate.version, from_=window.start, to=window.end, leads_replayed=self.leads,
            events_replayed=self.events, mqls=Volume(actual=self.mqls[0], candidate=self.mqls[1]),
            sqls=Volume(actual=self.sqls[0], candidate=self.sqls[1]),
            mqls_by_segment=[
                SegmentVolume(segment=name, actual=counts[0], candidate=counts[1])
                for name, counts in sorted(self.segments.items())
            ],
            handoffs_by_queue=[
                QueueVolume(queue=name, actual=counts[0], candidate=counts[1])
                for name, counts in sorted(self.queues.items())
            ],
            rep_load=loads, stage_changed=self.stage_changed, queue_changed=self.queue_changed,
            examples=self.examples,
        )  # fmt: skip
