"""Which escalation step a breach gets, and the deadlines of every obligation (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from router.calendars import WorkingCalendar
from router.sla import escalation_for, progress, resume, time_used
from schemas.agreement import Calendar, Escalation
from services.agreements import load_agreement
from tests.conftest import EXAMPLE_AGREEMENT

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Berlin


def _step(obligation: str, after: int, role: str) -> Escalation:
    return Escalation.model_validate(
        {"obligation": obligation, "after": after, "actions": [{"notify": role}]}
    )


def test_each_breach_gets_its_step_of_the_chain_and_the_last_step_repeats() -> None:
    chain = [_step("first_touch", 1, "team_lead"), _step("first_touch", 2, "manager"),
             _step("decision", 1, "ops"), _step("first_touch", 4, "vp")]  # fmt: skip
    roles = [
        (step.actions[0].notify if step else None)
        for step in (escalation_for(chain, "first_touch", n) for n in range(1, 7))
    ]
    assert roles == ["team_lead", "manager", "manager", "vp", "vp", "vp"]
    assert escalation_for(chain, "attempts", 1) is None
    assert escalation_for([_step("first_touch", 2, "manager")], "first_touch", 1) is None


def test_the_example_agreement_escalates_first_touch_to_the_next_rep_then_to_inside_sales() -> None:
    agreement = load_agreement(EXAMPLE_AGREEMENT)
    first, second, third = (agreement.escalation("first_touch", n) for n in (1, 2, 3))
    assert first is not None
    assert [a.reassign or a.notify for a in first.actions] == ["next_rep", "sales_manager"]
    assert second is not None
    assert second.actions[0].move_to_queue == "inside-sales"
    assert third == second
    assert agreement.escalation("decision", 1) is None


def test_every_obligation_has_a_deadline_on_its_calendar() -> None:
    agreement = load_agreement(EXAMPLE_AGREEMENT)
    first_touch = agreement.deadline_clock("first_touch", T0, None)
    assert first_touch is not None
    assert first_touch.calendar == "dach-office"
    # 4 h of office time from 09:00 Berlin: 09:00-12:30, lunch, 13:30-14:00
    assert first_touch.due_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    attempts = agreement.deadline_clock("attempts", T0, None)
    decision = agreement.deadline_clock("decision", T0, None)
    assert attempts is not None
    assert decision is not None
    assert (attempts.calendar, attempts.due_at) == (None, T0 + timedelta(days=5))  # wall clock
    assert decision.due_at == T0 + timedelta(days=2)
    assert decision.warn_at == T0 + timedelta(days=1.5)
    assert agreement.deadline_clock("unknown", T0, None) is None


def test_feedback_meets_each_obligation_by_its_own_outcomes() -> None:
    assert progress("first_touch", "touched", 0, None) == (0, True)
    assert progress("first_touch", "accepted", 0, None) == (0, False)
    # each touch is a contact attempt; the obligation is met at the agreement's number
    assert progress("attempts", "touched", 0, 3) == (1, False)
    assert progress("attempts", "meeting_booked", 2, 3) == (3, True)
    assert progress("attempts", "accepted", 2, 3) == (2, False)
    assert progress("attempts", "paused", 2, 3) == (2, False)
    # the decision: accept or reject, or what implies one
    decided = [progress("decision", o, 0, None)[1] for o in ("accepted", "rejected", "converted", "touched")]
    assert decided == [True, True, True, False]


def _office() -> WorkingCalendar:
    hours = {day: [("09:00", "12:30"), ("13:30", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}
    return WorkingCalendar(Calendar.model_validate({"id": "o", "timezone": "Europe/Berlin", "hours": hours}))


def _berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour - 1, minute, tzinfo=UTC)  # March 2026 before DST: UTC+1


def test_a_clock_resumed_on_its_calendar_owes_the_working_time_it_had_left() -> None:
    """Due Monday 14:00 Berlin, paused Monday 11:00 (2 h of office time left: 11:00-12:30, 13:30-14:00),
    resumed Thursday 17:00: due Friday 10:00 (17:00-18:00, then 09:00-10:00). The pause counted
    Monday 11:00 to Thursday 17:00 in office time: 1.5 + 4.5 + 8 + 8 + 3.5 + 3.5 h = 29 h."""
    office = _office()
    resumed = resume(
        _berlin(2, 11),
        _berlin(5, 17),
        due=_berlin(2, 14),
        warn_at=_berlin(2, 11, 30),
        warned=False,
        calendar=office,
    )
    assert resumed.due_at == _berlin(6, 10)
    assert resumed.warn_at == _berlin(5, 17, 30)  # its warning, 30 min of office time after the resume
    assert resumed.paused == timedelta(hours=29)
    # a warning already sent stays as it was
    warned = resume(
        _berlin(2, 11),
        _berlin(5, 17),
        due=_berlin(2, 14),
        warn_at=_berlin(2, 10),
        warned=True,
        calendar=office,
    )
    assert warned.warn_at == _berlin(2, 10)


def test_a_wall_clock_clock_resumes_with_the_same_time_left() -> None:
    resumed = resume(
        T0, T0 + timedelta(days=3), due=T0 + timedelta(hours=5), warn_at=None, warned=False, calendar=None
    )
    assert resumed == type(resumed)(T0 + timedelta(days=3, hours=5), None, timedelta(days=3))


@given(
    paused_minutes=st.integers(0, 60 * 24 * 20),
    left_minutes=st.integers(1, 60 * 40),
    pause_minutes=st.integers(0, 60 * 24 * 30),
)
def test_resuming_keeps_the_working_time_left_and_counts_the_pause(
    paused_minutes: int, left_minutes: int, pause_minutes: int
) -> None:
    office = _office()
    paused_at = T0 + timedelta(minutes=paused_minutes)
    due = office.add(paused_at, timedelta(minutes=left_minutes))
    now = paused_at + timedelta(minutes=pause_minutes)
    resumed = resume(paused_at, now, due=due, warn_at=None, warned=False, calendar=office)
    assert time_used(now, resumed.due_at, office) == timedelta(minutes=left_minutes)
    assert resumed.paused == time_used(paused_at, now, office)
