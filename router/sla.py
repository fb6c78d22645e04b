"""SLA clock maths (pure). Deadlines are plain durations for now; business calendars come later."""

from __future__ import annotations

from datetime import datetime, timedelta

FIRST_TOUCH = "first_touch"
TOUCH_OUTCOMES: frozenset[str] = frozenset({"touched", "meeting_booked", "converted"})
CLOSING_OUTCOMES: frozenset[str] = frozenset({"converted", "disqualified", "rejected"})


def due_at(started_at: datetime, within: timedelta) -> datetime:
    """When an obligation started at ``started_at`` must be fulfilled."""
    if started_at.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    return started_at + within


def fulfils_first_touch(outcome: str) -> bool:
    """Whether a feedback outcome counts as the first touch of a lead."""
    return outcome in TOUCH_OUTCOMES


def closes_lead(outcome: str) -> bool:
    """Whether a feedback outcome ends the rep's work on a lead (it leaves the rep's open count)."""
    return outcome in CLOSING_OUTCOMES
