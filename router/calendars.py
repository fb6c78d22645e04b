"""Working calendars (pure): whether a moment falls in working hours, in the calendar's time zone.

A calendar has working intervals per weekday, public holidays of a country (and subdivision) from
the ``holidays`` package, and extra closure days. ``WorkingCalendar`` is built once per agreement.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import holidays

from schemas.agreement import Calendar

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(text: str) -> time:
    hours, minutes = map(int, text.split(":"))
    return time.max if hours == 24 else time(hours, minutes)


class WorkingCalendar:
    """A calendar ready to answer ``is_working(at)``."""

    def __init__(self, calendar: Calendar) -> None:
        self.id = calendar.id
        self.zone = ZoneInfo(calendar.timezone)
        self._hours = {
            _WEEKDAYS.index(day): [(_clock(start), _clock(end)) for start, end in intervals]
            for day, intervals in calendar.hours.items()
        }
        self._country = calendar.holidays_country
        self._subdivision = calendar.holidays_subdivision
        self._closures = frozenset(calendar.closures)

    def local(self, at: datetime) -> datetime:
        """``at`` in the calendar's time zone."""
        return at.astimezone(self.zone)

    def is_working_day(self, day: date) -> bool:
        """Not a weekend without hours, a public holiday or a closure."""
        if day in self._closures or not self._hours.get(day.weekday()):
            return False
        return not (self._country and day in _holidays(self._country, self._subdivision, day.year))

    def is_working(self, at: datetime) -> bool:
        """Whether ``at`` (timezone-aware) falls inside a working interval."""
        local = self.local(at)
        if not self.is_working_day(local.date()):
            return False
        moment = local.time().replace(tzinfo=None)
        return any(start <= moment < end for start, end in self._hours[local.weekday()])


@functools.cache
def _holidays(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)
