"""What-if replay: a lead's stored events run again under a candidate agreement, in memory.

The same steps as ingest (``services.ingest``): an upsert merges the profile and may assert a stage;
an activity counts and weighs engagement; ``rejected`` feedback recycles the lead to marketing; after
each event the lead is qualified (never backwards) and, once at the handoff stage, routed to a queue.
Pure: the caller passes the events, already validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from router.agreement import CompiledAgreement, lead_facts
from router.engagement import record_activity, weights_at
from router.stages import reached, recycle

EventKind = Literal["lead", "activity", "feedback"]


@dataclass(frozen=True)
class ReplayEvent:
    """One stored event: a lead's profile changes (``changes``, ``asserted`` stage), an activity
    (``activity``, its time ``occurred_at``) or a feedback ``outcome``; ``at`` when it was received."""

    kind: EventKind
    at: datetime
    changes: dict[str, Any] = field(default_factory=dict)
    asserted: str | None = None
    activity: str | None = None
    occurred_at: datetime | None = None
    outcome: str | None = None


@dataclass
class ReplayedLead:
    """A lead's state as the replay leaves it, and what happened to it inside the window."""

    stage: str = "new"
    queue: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    as_of: datetime | None = None
    last_activity_at: datetime | None = None
    mql_entries: list[datetime] = field(default_factory=list)  # into MQL or beyond
    sql_entries: list[datetime] = field(default_factory=list)
    routed: list[tuple[datetime, str]] = field(default_factory=list)  # (when, queue)

    def facts(self, agreement: CompiledAgreement, at: datetime, created_at: datetime) -> dict[str, Any]:
        """The facts rules see at ``at``."""
        weights = weights_at(self.weights, self.as_of, at, agreement.half_life_days)
        return lead_facts(
            self.profile, self.counts, weights=weights, last_activity_at=self.last_activity_at,
            created_at=created_at,
        )  # fmt: skip


def replay_lead(
    agreement: CompiledAgreement, created_at: datetime, events: list[ReplayEvent]
) -> ReplayedLead:
    """Run ``events`` (oldest first) under ``agreement``; the lead as it ends up, with its stage entries
    and routings (all of them: the caller picks those of its window)."""
    lead = ReplayedLead()
    for event in events:
        asserted = None
        if event.kind == "lead":
            attributes = {**lead.profile.get("attributes", {}), **event.changes.get("attributes", {})}
            lead.profile.update({k: v for k, v in event.changes.items() if k != "attributes"})
            lead.profile["attributes"] = attributes
            asserted = event.asserted
        elif event.kind == "activity" and event.activity is not None:
            at = min(event.occurred_at or event.at, event.at)
            lead.counts[event.activity] = lead.counts.get(event.activity, 0) + 1
            lead.weights, lead.as_of = record_activity(
                lead.weights, lead.as_of, event.activity, at, agreement.half_life_days
            )
            if lead.last_activity_at is None or at > lead.last_activity_at:
                lead.last_activity_at = at
        elif event.kind == "feedback":
            if event.outcome == "rejected" and lead.stage != "disqualified":
                lead.stage, lead.queue = recycle(lead.stage), None
                lead.weights, lead.as_of = {}, event.at
            continue
        _evaluate(agreement, lead, event.at, created_at, asserted)
    return lead


def _evaluate(
    agreement: CompiledAgreement, lead: ReplayedLead, at: datetime, created_at: datetime, asserted: str | None
) -> None:
    facts = lead.facts(agreement, at, created_at)
    before = lead.stage
    lead.stage = agreement.qualify(facts, before, asserted, at).stage
    if not reached(before, "mql") and reached(lead.stage, "mql"):
        lead.mql_entries.append(at)
    if lead.stage == "sql" and before != "sql":
        lead.sql_entries.append(at)
    if lead.queue is None and reached(lead.stage, agreement.handoff_stage):
        lead.queue = agreement.route(facts, at).queue
        lead.routed.append((at, lead.queue))
