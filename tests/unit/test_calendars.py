"""Working calendars: hours in the calendar's time zone (DST included), holidays, closures."""

from __future__ import annotations

from datetime import UTC, date, datetime

from router.calendars import WorkingCalendar
from schemas.agreement import Calendar

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
    import pytest  # noqa: PLC0415
    from pydantic import ValidationError  # noqa: PLC0415

    for fields, message in (
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"holidays_country": "XX"}, "no public holidays known for 'XX'"),
        ({"holidays_country": "DE", "holidays_subdivision": "ZZ"}, "'ZZ' is not a subdivision of DE"),
    ):
        with pytest.raises(ValidationError, match=message):
            Calendar.model_validate({"id": "c", "timezone": "UTC", "hours": WEEKDAYS, **fields})
