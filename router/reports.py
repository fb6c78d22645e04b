"""Report arithmetic: goals prorated to a window, pace, attainment status, shares and percentiles.

Pure: callers pass the counts and times; nothing here reads a clock or a database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["week", "month", "quarter"]
Status = Literal["met", "on_track", "at_risk", "missed"]


@dataclass(frozen=True)
class GoalProgress:
    """A goal over a window: its target, the actual so far, and where the current pace ends."""

    target: float
    actual: float
    attainment: float | None  # actual / target
    projected: float  # the actual at the window's end at the pace so far (the actual once it ended)
    projected_attainment: float | None
    status: Status


def period_start(at: datetime, period: Period) -> datetime:
    """The start (UTC midnight) of the goal period containing ``at``."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def period_end(start: datetime, period: Period) -> datetime:
    """The end of the goal period that begins at ``start``."""
    if period == "week":
        return start + timedelta(days=7)
    months = 1 if period == "month" else 3
    month = start.month - 1 + months
    return start.replace(year=start.year + month // 12, month=month % 12 + 1)


def prorated_goal(per_period: float, period: Period, start: datetime, end: datetime) -> float:
    """The goal for the window [start, end): each goal period it overlaps contributes its goal times
    the share of that period inside the window (a whole month asks the month's goal)."""
    total = 0.0
    cursor = period_start(start, period)
    while cursor < end:
        following = period_end(cursor, period)
        overlap = min(end, following) - max(start, cursor)
        if overlap > timedelta(0):
            total += per_period * (overlap / (following - cursor))
        cursor = following
    return total


def progress(target: float, actual: float, start: datetime, end: datetime, now: datetime) -> GoalProgress:
    """Where ``actual`` stands against ``target`` at ``now`` in the window [start, end).

    ``met`` once the actual reaches the target; after the window, ``missed`` otherwise; during it,
    ``on_track`` when the pace so far reaches the target by the end, else ``at_risk``.
    """
    projected = actual if now >= end or now <= start else actual * ((end - start) / (now - start))
    attainment = share(actual, target)
    projected_attainment = share(projected, target)
    status: Status
    if actual >= target:
        status = "met"
    elif now >= end:
        status = "missed"
    else:
        status = "on_track" if projected >= target else "at_risk"
    return GoalProgress(target, actual, attainment, projected, projected_attainment, status)


def share(part: float, whole: float) -> float | None:
    """``part / whole``, or ``None`` when there is nothing to divide by."""
    return part / whole if whole > 0 else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) with linear interpolation between the closest ranks (numpy's
    default); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
