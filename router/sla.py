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
# Outcomes that settle sales' accept/reject decision: the explicit ones, and the ones that imply it.
DECISION_OUTCOMES: frozenset[str] = frozenset({"accepted", "rejected", "converted", "disqualified"})
OBLIGATIONS: tuple[str, ...] = (FIRST_TOUCH, ATTEMPTS, DECISION)  # the order a handoff starts them in
PAUSE, RESUME = "paused", "resumed"
LIVE_STATES: tuple[str, ...] = ("open", "paused")  # a clock that has not met, breached or been cancelled


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


def progress(
    obligation: str, outcome: str, attempts_made: int, attempts_required: int | None
) -> tuple[int, bool]:
    """What a feedback outcome does to an open clock of ``obligation``: its attempts made afterwards,
    and whether the obligation is now fulfilled. A touch (touched, meeting booked, converted) is the
    first touch and one contact attempt; accepting or rejecting (or converting, disqualifying) is the
    decision."""
    if obligation == FIRST_TOUCH:
        return attempts_made, outcome in TOUCH_OUTCOMES
    if obligation == ATTEMPTS:
        made = attempts_made + (outcome in TOUCH_OUTCOMES)
        return made, made >= (attempts_required or 1)
    if obligation == DECISION:
        return attempts_made, outcome in DECISION_OUTCOMES
    return attempts_made, False


@dataclass(frozen=True, slots=True)
class Resumption:
    """A paused clock's times once it runs again, and the time its pause lasted."""

    due_at: datetime
    warn_at: datetime | None
    paused: timedelta


def resume(
    paused_at: datetime,
    now: datetime,
    *,
    due: datetime,
    warn_at: datetime | None,
    warned: bool,
    calendar: WorkingCalendar | None,
) -> Resumption:
    """Resume a clock paused at ``paused_at``: it owes the time it had left at the pause, counted from
    ``now`` on its calendar (or the wall clock); a warning not yet sent likewise. The pause itself
    (``paused``, on the same calendar) does not count against the clock."""
    left = time_used(paused_at, due, calendar)
    new_warn = warn_at
    if warn_at is not None and not warned:
        new_warn = due_at(now, time_used(paused_at, warn_at, calendar), calendar)
    return Resumption(due_at(now, left, calendar), new_warn, time_used(paused_at, now, calendar))


def closes_lead(outcome: str) -> bool:
    """Whether a feedback outcome ends the rep's work on a lead (it leaves the rep's open count)."""
    return outcome in CLOSING_OUTCOMES


def escalation_for(escalations: Sequence[Escalation], obligation: str, breaches: int) -> Escalation | None:
    """The escalation for the ``breaches``-th breach of ``obligation`` on one lead: the step whose
    ``after`` is that count; past the end of the chain its last step applies again (None: none)."""
    steps = [e for e in escalations if e.obligation == obligation and e.after <= breaches]
    return max(steps, key=lambda e: e.after, default=None)
