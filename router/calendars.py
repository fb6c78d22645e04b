"""Working calendars (pure): working hours, and time counted in them (business time).

A calendar has working intervals per weekday in its time zone (several per day: split shifts, lunch
breaks), public holidays of a country (and subdivision) from the ``holidays`` package, and closure
days of its own. ``WorkingCalendar`` is built once per agreement version.

Business time is real elapsed time inside working intervals. Each day's intervals are turned into
instants through the time zone, so a working day that crosses a daylight-saving change counts the
hours that actually pass (an interval 01:00-03:00 on the spring-forward night is one hour; 00:00-03:00
on the fall-back night is four). A local time that does not exist counts as the same clock time
before the change (``fold=0``), as ``zoneinfo`` does.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

from schemas.agreement import Calendar

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = timedelta(days=1)
MAX_SEARCH_DAYS = 3 * 366  # add() gives up after this many days without enough working time
_CACHED_DAYS = 4096

Interval = tuple[datetime, datetime]  # [start, end) as UTC instants


def _minutes(text: str) -> int:
    hours, minutes = map(int, text.split(":"))
    return hours * 60 + minutes


class WorkingCalendar:
    """A calendar ready to answer ``is_working(at)``, ``add(start, duration)`` and ``elapsed(start, end)``."""

    def __init__(self, calendar: Calendar) -> None:
        self.id = calendar.id
        self.zone = ZoneInfo(calendar.timezone)
        # per weekday: (minutes from local midnight at start, at end); 24:00 is 1440
        self._hours = {
            _WEEKDAYS.index(day): [(_minutes(start), _minutes(end)) for start, end in sorted(intervals)]
            for day, intervals in calendar.hours.items()
        }
        self._country = calendar.holidays_country
        self._subdivision = calendar.holidays_subdivision
        self._closures = frozenset(calendar.closures)
        self._days: dict[date, tuple[Interval, ...]] = {}

    def local(self, at: datetime) -> datetime:
        """``at`` in the calendar's time zone."""
        return at.astimezone(self.zone)

    def is_working_day(self, day: date) -> bool:
        """Not a weekend without hours, a public holiday or a closure."""
        if day in self._closures or not self._hours.get(day.weekday()):
            return False
        return not (self._country and day in _holidays(self._country, self._subdivision, day.year))

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The working intervals of the local ``day``, as UTC instants (none on a non-working day)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        intervals: list[Interval] = []
        if self.is_working_day(day):
            midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
            for start, end in self._hours[day.weekday()]:
                begins = (midnight + timedelta(minutes=start)).astimezone(UTC)
                ends = (midnight + timedelta(minutes=end)).astimezone(UTC)
                if ends > begins:  # a local interval inside a skipped hour has no length
                    intervals.append((begins, ends))
        if len(self._days) >= _CACHED_DAYS:
            self._days.clear()
        result = self._days[day] = tuple(intervals)
        return result

    def is_working(self, at: datetime) -> bool:
        """Whether ``at`` (timezone-aware) falls inside a working interval."""
        _require_aware(at)
        return any(start <= at < end for start, end in self.intervals_on(self.local(at).date()))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which ``duration`` of working time has passed since ``start``.

        A start outside working hours counts from the next working moment; a duration that ends
        exactly where an interval ends gives that end (not the next interval's start).
        """
        _require_aware(start)
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        if not duration:
            return start
        remaining = duration
        day = self.local(start).date()
        for _ in range(MAX_SEARCH_DAYS):
            for begins, ends in self.intervals_on(day):
                if ends <= start:
                    continue
                counted_from = max(begins, start)
                if remaining <= ends - counted_from:
                    return counted_from + remaining
                remaining -= ends - counted_from
            day += _DAY
        raise ValueError(
            f"calendar {self.id!r} has less than {duration} of working time in {MAX_SEARCH_DAYS} days"
        )

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between ``start`` and ``end`` (zero if ``end`` is not after ``start``)."""
        _require_aware(start)
        _require_aware(end)
        total = timedelta(0)
        if end <= start:
            return total
        day, last = self.local(start).date(), self.local(end).date()
        while day <= last:
            for begins, ends in self.intervals_on(day):
                low, high = max(begins, start), min(ends, end)
                if high > low:
                    total += high - low
            day += _DAY
        return total


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("calendar times must be timezone-aware")


@functools.cache
def _holidays(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)
