"""Which escalation step a breach gets, and the deadlines of every obligation (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.sla import escalation_for
from schemas.agreement import Escalation
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
