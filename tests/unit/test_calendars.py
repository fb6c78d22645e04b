"""Working calendars: hours in the calendar's time zone (DST included), holidays, closures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from router.calendars import WorkingCalendar
from schemas.agreement import Calendar
from services.agreements import load_agreement
from tests.conftest import EXAMPLE_AGREEMENT

WEEKDAYS = {day: [("09:00", "12:30"), ("13:30", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}


def _calendar(**fields: object) -> WorkingCalendar:
    return WorkingCalendar(
        Calendar.model_validate({"id": "c", "timezone": "Europe/Berlin", "hours": WEEKDAYS, **fields})
    )


def test_hours_are_local_time_across_daylight_saving() -> None:
    berlin = _calendar()
    # Winter (UTC+1): 08:30 UTC is 09:30 in Berlin; summer (UTC+2): 07:30 UTC is 09:30.
    assert berlin.is_working(datetime(2026, 1, 14, 8, 30, tzinfo=UTC))
    assert not berlin.is_working(datetime(2026, 1, 14, 7, 30, tzinfo=UTC))
    assert berlin.is_working(datetime(2026, 7, 15, 7, 30, tzinfo=UTC))
    assert not berlin.is_working(datetime(2026, 7, 15, 16, 30, tzinfo=UTC))  # 18:30 local
    assert not berlin.is_working(datetime(2026, 7, 15, 11, 0, tzinfo=UTC))  # 13:00 local: lunch break


def test_weekends_holidays_and_closures_are_not_working_days() -> None:
    bavaria = _calendar(holidays_country="DE", holidays_subdivision="BY", closures=[date(2026, 12, 23)])
    assert not bavaria.is_working(datetime(2026, 1, 17, 10, 0, tzinfo=UTC))  # Saturday
    assert not bavaria.is_working(datetime(2026, 1, 6, 10, 0, tzinfo=UTC))  # Epiphany, a holiday in Bavaria
    assert _calendar(holidays_country="DE", holidays_subdivision="BE").is_working(
        datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    )  # not in Berlin
    assert not bavaria.is_working(datetime(2026, 12, 23, 10, 0, tzinfo=UTC))  # a closure day
    assert bavaria.is_working(datetime(2026, 12, 22, 10, 0, tzinfo=UTC))


def test_a_day_ending_at_24_00_includes_the_last_minute() -> None:
    late = WorkingCalendar(
        Calendar.model_validate({"id": "l", "timezone": "UTC", "hours": {"mon": [("18:00", "24:00")]}})
    )
    assert late.is_working(datetime(2026, 1, 12, 23, 59, 59, tzinfo=UTC))
    assert not late.is_working(datetime(2026, 1, 13, 0, 0, tzinfo=UTC))


def test_unknown_zones_countries_and_subdivisions_are_refused() -> None:
    for fields, message in (
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"holidays_country": "XX"}, "no public holidays known for 'XX'"),
        ({"holidays_country": "DE", "holidays_subdivision": "ZZ"}, "'ZZ' is not a subdivision of DE"),
    ):
        with pytest.raises(ValidationError, match=message):
            Calendar.model_validate({"id": "c", "timezone": "UTC", "hours": WEEKDAYS, **fields})


# --- business time: add(start, duration) and elapsed(start, end) ------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
ALL_DAY = {day: [("00:00", "24:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def _hours(n: float) -> timedelta:
    return timedelta(hours=n)


def test_add_counts_only_working_intervals() -> None:
    split = _calendar()  # Mon-Fri 09:00-12:30 and 13:30-18:00: 8 hours a day
    assert split.add(_berlin(2026, 1, 12, 10), _hours(4)) == _berlin(2026, 1, 12, 15)  # around lunch
    assert split.add(_berlin(2026, 1, 12, 12), _hours(1)) == _berlin(2026, 1, 12, 14)
    assert split.add(_berlin(2026, 1, 16, 17), _hours(2)) == _berlin(2026, 1, 19, 10)  # Friday into Monday
    assert split.add(_berlin(2026, 1, 17, 11), _hours(1)) == _berlin(2026, 1, 19, 10)  # from a Saturday
    assert split.add(_berlin(2026, 1, 12, 7), _hours(8)) == _berlin(2026, 1, 12, 18)  # before opening
    assert split.add(_berlin(2026, 1, 12, 9), _hours(3.5)) == _berlin(2026, 1, 12, 12, 30)  # ends at a break
    assert split.add(_berlin(2026, 1, 12, 20), timedelta(0)) == _berlin(2026, 1, 12, 20)
    assert split.add(_berlin(2026, 1, 12, 9), _hours(40)) == _berlin(2026, 1, 16, 18)  # a working week


def test_add_skips_holidays_and_closures() -> None:
    bavaria = _calendar(holidays_country="DE", holidays_subdivision="BY", closures=[date(2026, 1, 7)])
    # Monday 17:00 + 3 h: one hour on Monday, Tuesday is Epiphany, Wednesday is closed, two on Thursday
    assert bavaria.add(_berlin(2026, 1, 5, 17), _hours(3)) == _berlin(2026, 1, 8, 11)
    assert bavaria.elapsed(_berlin(2026, 1, 5, 17), _berlin(2026, 1, 8, 11)) == _hours(3)


def test_daylight_saving_changes_count_the_hours_that_pass() -> None:
    always = _calendar(hours=ALL_DAY)
    # Berlin skips 02:00-03:00 on 29 March 2026: 23:00 + 5 h is 05:00 local, not 04:00
    assert always.add(_berlin(2026, 3, 28, 23), _hours(5)) == _berlin(2026, 3, 29, 5)
    assert always.elapsed(_berlin(2026, 3, 29, 0), _berlin(2026, 3, 30, 0)) == _hours(23)
    # and repeats 02:00-03:00 on 25 October 2026: that day has 25 working hours
    assert always.elapsed(_berlin(2026, 10, 25, 0), _berlin(2026, 10, 26, 0)) == _hours(25)
    night = _calendar(hours={"sun": [("01:00", "04:00")]})
    assert night.elapsed(_berlin(2026, 3, 29, 0), _berlin(2026, 3, 30, 0)) == _hours(2)
    assert night.elapsed(_berlin(2026, 10, 25, 0), _berlin(2026, 10, 26, 0)) == _hours(4)
    assert night.elapsed(_berlin(2026, 7, 5, 0), _berlin(2026, 7, 6, 0)) == _hours(3)


def test_a_night_shift_across_midnight_and_other_time_zones() -> None:
    shift = WorkingCalendar(
        Calendar.model_validate({
            "id": "night", "timezone": "America/New_York",
            "hours": {"mon": [("18:00", "24:00")], "tue": [("00:00", "06:00")]},
        })
    )  # fmt: skip
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 1, 12, 23, 0, tzinfo=new_york)  # Monday 23:00 = Tuesday 04:00 UTC
    assert shift.add(start, _hours(2)) == datetime(2026, 1, 13, 1, 0, tzinfo=new_york)
    assert shift.add(start.astimezone(UTC), _hours(2)) == datetime(2026, 1, 13, 6, 0, tzinfo=UTC)
    assert shift.add(start, _hours(8)) == datetime(2026, 1, 19, 19, 0, tzinfo=new_york)  # next Monday


def test_elapsed_is_zero_backwards_and_outside_hours() -> None:
    split = _calendar()
    assert split.elapsed(_berlin(2026, 1, 12, 15), _berlin(2026, 1, 12, 10)) == timedelta(0)
    assert split.elapsed(_berlin(2026, 1, 17, 8), _berlin(2026, 1, 18, 20)) == timedelta(0)  # weekend
    assert split.elapsed(_berlin(2026, 1, 12, 12), _berlin(2026, 1, 12, 14)) == _hours(1)  # lunch not counted


def test_naive_times_negative_durations_and_calendars_without_hours_are_refused() -> None:
    split = _calendar()
    with pytest.raises(ValueError, match="timezone-aware"):
        split.add(datetime(2026, 1, 12, 10), _hours(1))
    with pytest.raises(ValueError, match="negative"):
        split.add(_berlin(2026, 1, 12, 10), -_hours(1))
    closed = _calendar(closures=[date(2026, 1, 12) + timedelta(days=n) for n in range(1200)])
    with pytest.raises(ValueError, match="less than"):
        closed.add(_berlin(2026, 1, 12, 10), _hours(1))
    for hours, message in (
        ({"mon": [("09:00", "12:00"), ("11:00", "14:00")]}, "overlap"),
        ({"mon": []}, "at least one weekday"),
        ({"mon": [("12:00", "09:00")]}, "ends before it starts"),
    ):
        with pytest.raises(ValidationError, match=message):
            Calendar.model_validate({"id": "c", "timezone": "UTC", "hours": hours})


_CALENDARS = [
    _calendar(holidays_country="DE", holidays_subdivision="BY", closures=[date(2026, 12, 23)]),
    _calendar(hours=ALL_DAY),
    _calendar(hours={"sun": [("01:00", "04:00")], "wed": [("00:00", "00:30"), ("23:30", "24:00")]}),
]
_instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
_durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=120))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_CALENDARS), _instants, _durations)
def test_elapsed_inverts_add(calendar: WorkingCalendar, start: datetime, duration: timedelta) -> None:
    due = calendar.add(start, duration)
    assert calendar.elapsed(start, due) == duration
    assert due >= start + duration  # working time never runs faster than wall-clock time


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_CALENDARS), _instants, _durations, _durations)
def test_add_is_monotonic_and_additive(
    calendar: WorkingCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    assert calendar.add(calendar.add(start, first), second) == calendar.add(start, first + second)
    shorter, longer = sorted((first, second))
    assert calendar.add(start, shorter) <= calendar.add(start, longer)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_CALENDARS), _instants, _instants, _instants)
def test_elapsed_is_additive(calendar: WorkingCalendar, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert calendar.elapsed(a, c) == calendar.elapsed(a, b) + calendar.elapsed(b, c)


def test_the_example_agreements_first_touch_runs_on_office_hours() -> None:
    """The case the README quotes: a Friday 17:30 hand-off in Berlin is due on Monday at 14:00, and
    warns after 75 % of the four hours (three: Monday 12:00)."""
    agreement = load_agreement(EXAMPLE_AGREEMENT)
    times = agreement.deadline_clock("first_touch", _berlin(2026, 11, 27, 17, 30), None)
    assert times is not None
    assert times.due_at == _berlin(2026, 11, 30, 14)
    assert times.warn_at == _berlin(2026, 11, 30, 12)
    assert times.calendar == "dach-office"
