"""Pick the rep of a queue who gets a lead (pure: the state it reads and updates is passed in).

Every strategy is built on smooth weighted round robin (the algorithm nginx uses for upstreams):
each eligible member earns its weight in credit, the member with the most credit gets the lead and
pays back the total. Every full cycle (a multiple of the weights' sum) ends on exact shares, counts
stay close in between (within one lead for weights 1:1:2:4), and a heavy member never gets its leads
in a burst. ``round_robin`` is the same with every
weight 1; ``least_loaded`` gives the lead to an eligible member with the fewest open leads, credit
breaking ties. A member that is not eligible earns no credit, so coming back does not trigger a burst.

Capacity, availability and working hours belong to the person (``RepLoad``, shared by the person's
memberships); credit belongs to one membership of one queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class RepLoad:
    """One rep's state across queues, as of the assignment."""

    open_leads: int = 0
    new_today: int = 0
    max_open_leads: int | None = None
    max_new_per_day: int | None = None
    active: bool = True
    out_of_office: bool = False
    working: bool = True  # inside the rep's working hours now


@dataclass(slots=True)
class Member:
    """One rep's membership of a queue: weight and credit, and the rep's shared load."""

    rep_id: str
    weight: int
    credit: int
    load: RepLoad = field(default_factory=RepLoad)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who got the lead (``None``: nobody eligible, the lead waits), how, and who was skipped why."""

    rep_id: str | None
    strategy: str
    skipped: tuple[tuple[str, str], ...]


def why_not_eligible(load: RepLoad) -> str | None:
    """Why a rep cannot take a new lead now, or ``None`` if it can."""
    if not load.active:
        return "inactive"
    if load.out_of_office:
        return "out of office"
    if not load.working:
        return "outside working hours"
    if load.max_open_leads is not None and load.open_leads >= load.max_open_leads:
        return f"at capacity ({load.open_leads} of {load.max_open_leads} open leads)"
    if load.max_new_per_day is not None and load.new_today >= load.max_new_per_day:
        return f"daily limit reached ({load.new_today} of {load.max_new_per_day} new leads today)"
    return None


STICKY = "sticky account owner"


def assign(members: Sequence[Member], strategy: str, preferred: str | None = None) -> Assignment:
    """Choose a member for one lead and update credits and the chosen rep's load accordingly.

    ``preferred`` (the owner of the lead's account in this queue) gets the lead if eligible, without
    touching the rotation's credits; otherwise the strategy picks.
    """
    eligible: list[Member] = []
    skipped: list[tuple[str, str]] = []
    for member in members:
        reason = why_not_eligible(member.load)
        if reason is None:
            eligible.append(member)
        else:
            skipped.append((member.rep_id, reason))
    if not eligible:
        return Assignment(None, strategy, tuple(skipped))
    owner = next((member for member in eligible if member.rep_id == preferred), None)
    if owner is not None:
        owner.load.open_leads += 1
        owner.load.new_today += 1
        return Assignment(owner.rep_id, STICKY, tuple(skipped))
    weighted = strategy == "weighted_round_robin"
    total = 0
    for member in eligible:
        earned = member.weight if weighted else 1
        member.credit += earned
        total += earned
    candidates = eligible
    if strategy == "least_loaded":
        fewest = min(member.load.open_leads for member in eligible)
        candidates = [member for member in eligible if member.load.open_leads == fewest]
    chosen = max(candidates, key=_credit)  # the first of equals: queue order breaks ties
    chosen.credit -= total
    chosen.load.open_leads += 1
    chosen.load.new_today += 1
    return Assignment(chosen.rep_id, strategy, tuple(skipped))


def _credit(member: Member) -> int:
    return member.credit
