"""First-touch deadlines counted on working calendars: the obligation's, or the assigned rep's."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from router.calendars import WorkingCalendar
from schemas.agreement import Calendar
from services.settings import Settings
from tests.support.app import app_client
from tests.support.leads import qualified_lead_body

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _office(closures: list[str]) -> dict[str, Any]:
    hours = {day: [["09:00", "12:30"], ["13:30", "18:00"]] for day in WEEKDAYS}
    return {"id": "office", "timezone": "Europe/Berlin", "hours": hours, "closures": closures}


def _always() -> dict[str, Any]:
    hours = {day: [["00:00", "24:00"]] for day in (*WEEKDAYS, "sat", "sun")}
    return {"id": "always", "timezone": "Asia/Tokyo", "hours": hours}


def _agreement(
    path: Path, calendars: list[dict[str, Any]], first_touch: str, rep_calendar: str | None
) -> None:
    """The example agreement with ``calendars``, a 4-hour first touch and maybe calendars for the reps."""
    text = path.read_text(encoding="utf-8")
    text = text.replace("first_touch:\n    within: PT2S", f"first_touch:\n    within: PT4H{first_touch}")
    rendered = "".join(f"\n  - {Calendar.model_validate(c).model_dump_json()}" for c in calendars)
    text = text.replace("\ncalendars:\n", f"\ncalendars:{rendered}\n")
    if rep_calendar is not None:
        for rep in ("{id: rep-anna, name: Anna Berger", "{id: rep-jonas, name: Jonas Keller"):
            text = text.replace(rep, f"{rep}, calendar: {rep_calendar}")
    path.write_text(text, encoding="utf-8")


async def _handoff(db_url: str, agreement: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    settings = Settings(
        database_url=db_url, agreement_path=agreement, kafka_bootstrap_servers=None, run_clock_worker=False
    )
    async with app_client(settings) as (client, _):
        accepted = await client.post("/v1/leads", json=qualified_lead_body())
        assert accepted.status_code == 201, accepted.text
        detail = (await client.get(f"/v1/leads/{accepted.json()['lead_id']}")).json()
        feed = (await client.get("/v1/events")).json()["events"]
    handoff = next(e for e in feed if e["type"] == "com.leadrouter.lead.handed_off")
    return detail["clocks"][0], handoff["data"]


async def test_the_first_touch_counts_the_obligations_working_hours(
    db_url: str, agreement_file: Path
) -> None:
    today = datetime.now(BERLIN).date()
    closed = [(today + timedelta(days=n)).isoformat() for n in range(3)]  # handed off on a closed day
    _agreement(agreement_file, [_office(closed)], "\n    calendar: office", rep_calendar=None)
    clock, handoff = await _handoff(db_url, agreement_file)
    started, due = datetime.fromisoformat(clock["started_at"]), datetime.fromisoformat(clock["due_at"])
    office = WorkingCalendar(Calendar.model_validate(_office(closed)))
    assert due == office.add(started, timedelta(hours=4))
    assert due.astimezone(BERLIN).date() >= today + timedelta(days=3)  # not before the closure ends
    assert office.elapsed(started, due) == timedelta(hours=4)
    assert due - started > timedelta(days=1)  # four working hours, more than a day of wall-clock time
    assert datetime.fromisoformat(handoff["first_touch_due_at"]) == due


async def test_the_assigned_reps_working_hours_come_first(db_url: str, agreement_file: Path) -> None:
    """The office is closed for days, but the reps (assigned only while they work) work around the clock."""
    today = datetime.now(BERLIN).date()
    closed = [(today + timedelta(days=n)).isoformat() for n in range(3)]
    _agreement(agreement_file, [_office(closed), _always()], "\n    calendar: office", "always")
    clock, handoff = await _handoff(db_url, agreement_file)
    assert clock["rep_id"] in {"rep-anna", "rep-jonas"}
    started, due = datetime.fromisoformat(clock["started_at"]), datetime.fromisoformat(clock["due_at"])
    assert due - started == timedelta(hours=4)  # on the rep's calendar, not the closed office's
    assert datetime.fromisoformat(handoff["first_touch_due_at"]) == due
    assert handoff["rep_id"] == clock["rep_id"]


async def test_without_calendars_the_deadline_is_wall_clock_time(db_url: str, agreement_file: Path) -> None:
    _agreement(agreement_file, [_office([])], "", rep_calendar=None)  # a calendar nobody uses
    clock, _ = await _handoff(db_url, agreement_file)
    started, due = datetime.fromisoformat(clock["started_at"]), datetime.fromisoformat(clock["due_at"])
    assert due - started == timedelta(hours=4)
