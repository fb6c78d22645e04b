"""When an agreement is due for review: on its cadence from ``valid_from``, and before it expires.

Pure: callers pass the document's dates and today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

ReviewKind = Literal["periodic", "expiry"]


@dataclass(frozen=True)
class ReviewDue:
    """A review the agreement asks for: on ``due_on`` (``expiry``: notice before ``valid_to``)."""

    kind: ReviewKind
    due_on: date


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months (the 31st becomes the month's last day when it has none)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise ValueError(day)  # unreachable: every month has a 28th


def review_dates(valid_from: date, every_months: int, until: date) -> list[date]:
    """The periodic review dates after ``valid_from``, up to and including ``until``."""
    dates = []
    n = 1
    while (due := add_months(valid_from, n * every_months)) <= until:
        dates.append(due)
        n += 1
    return dates


def reviews_due(
    valid_from: date | None, valid_to: date | None, every_months: int | None, notice_days: int, today: date
) -> list[ReviewDue]:
    """Every review that has fallen due by ``today``: the periodic ones (``every_months`` after
    ``valid_from``, up to ``valid_to``), and one ``notice_days`` before ``valid_to``."""
    due: list[ReviewDue] = []
    if valid_from is not None and every_months is not None:
        until = min(today, valid_to) if valid_to is not None else today
        due += [ReviewDue("periodic", day) for day in review_dates(valid_from, every_months, until)]
    if valid_to is not None and valid_to - timedelta(days=notice_days) <= today:
        due.append(ReviewDue("expiry", valid_to - timedelta(days=notice_days)))
    return due


def next_review(
    valid_from: date | None, valid_to: date | None, every_months: int | None, today: date
) -> date | None:
    """The next periodic review after ``today`` (``None``: none before the agreement ends)."""
    if valid_from is None or every_months is None:
        return None
    n = 1
    while (due := add_months(valid_from, n * every_months)) <= today:
        n += 1
    return due if valid_to is None or due <= valid_to else None
