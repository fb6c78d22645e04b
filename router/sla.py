"""SLA clock maths (pure): deadlines on a working calendar or the wall clock, and feedback outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from router.calendars import WorkingCalendar
from schemas.agreement import Escalation

FIRST_TOUCH = "first_touch"
ATTEMPTS = "attempts"
DECISION = "decision"
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


@dataclass(frozen=True, slots=True)
class ClockTimes:
    """When a clock started at some moment warns and falls due, and the calendar it counts on."""

    due_at: datetime
    warn_at: datetime | None
    calendar: str | None  # the calendar's id; None: wall-clock time


def clock_times(
    started_at: datetime, within: timedelta, warn_share: float | None, calendar: WorkingCalendar | None
) -> ClockTimes:
    """The due time after ``within``, and the warning after ``warn_share`` of it (None: no warning)."""
    warn_at = due_at(started_at, within * warn_share, calendar) if warn_share else None
    return ClockTimes(due_at(started_at, within, calendar), warn_at, calendar.id if calendar else None)


def time_used(started_at: datetime, at: datetime, calendar: WorkingCalendar | None) -> timedelta:
    """The time that counted against a clock between its start and ``at``: working time on its calendar,
    or wall-clock time."""
    if calendar is not None:
        return calendar.elapsed(started_at, at)
    return max(at - started_at, timedelta(0))


def fulfils_first_touch(outcome: str) -> bool:
    """Whether a feedback outcome counts as the first touch of a lead."""
    return outcome in TOUCH_OUTCOMES


def closes_lead(outcome: str) -> bool:
    """Whether a feedback outcome ends the rep's work on a lead (it leaves the rep's open count)."""
    return outcome in CLOSING_OUTCOMES


def escalation_for(escalations: Sequence[Escalation], obligation: str, breaches: int) -> Escalation | None:
    """The escalation for the ``breaches``-th breach of ``obligation`` on one lead: the step whose
    ``after`` is that count; past the end of the chain its last step applies again (None: none)."""
    steps = [e for e in escalations if e.obligation == obligation and e.after <= breaches]
    return max(steps, key=lambda e: e.after, default=None)
