"""SLA clock maths (pure): deadlines on a working calendar or the wall clock, and feedback outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta

from router.calendars import WorkingCalendar

FIRST_TOUCH = "first_touch"
TOUCH_OUTCOMES: frozenset[str] = frozenset({"touched", "meeting_booked", "converted"})
CLOSING_OUTCOMES: frozenset[str] = frozenset({"converted", "disqualified", "rejected"})


def due_at(started_at: datetime, within: timedelta, calendar: WorkingCalendar | None = None) -> datetime:
    """When an obligation started at ``started_at`` must be fulfilled: ``within`` of working time on
    ``calendar``, or of wall-clock time without one."""
    if started_at.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    if calendar is not None:
        return calendar.add(started_at, within)
    return started_at + within


def fulfils_first_touch(outcome: str) -> bool:
    """Whether a feedback outcome counts as the first touch of a lead."""
    return outcome in TOUCH_OUTCOMES


def closes_lead(outcome: str) -> bool:
    """Whether a feedback outcome ends the rep's work on a lead (it leaves the rep's open count)."""
    return outcome in CLOSING_OUTCOMES
