"""Scoring, stages, routing and assignment with the example agreement (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.agreement import PROFILE_FIELDS, CompiledAgreement, lead_facts
from router.sla import due_at, progress
from router.stages import DISQUALIFIED, RANK, advance, reached
from schemas.vocabulary import ACTIVITY_TYPES
from services.agreements import load_agreement
from tests.conftest import EXAMPLE_AGREEMENT


@pytest.fixture(scope="module")
def agreement() -> CompiledAgreement:
    return load_agreement(EXAMPLE_AGREEMENT)


ENTERPRISE_DE: dict[str, Any] = {
    "email": "ada@example-corp.com", "industry": "software", "employees": 2500, "country": "DE",
    "seniority": "vp", "annual_revenue": 5_000_000,
}  # fmt: skip


def test_fit_points_add_up_and_are_explained(agreement: CompiledAgreement) -> None:
    result = agreement.qualify(lead_facts(ENTERPRISE_DE, {}), "new")
    assert result.fit_score == 20 + 25 + 15 + 10 + 5
    assert result.engagement_score == 0
    assert result.stage == "new"
    assert [(f.rule, f.points) for f in result.fired] == [
        ("icp-industry", 20), ("size-enterprise", 25), ("senior-buyer", 15), ("target-country", 10),
        ("enterprise-persona", 5),
    ]  # fmt: skip


def test_engagement_is_capped_per_rule(agreement: CompiledAgreement) -> None:
    result = agreement.qualify(lead_facts(ENTERPRISE_DE, {"page_view": 50, "webinar_attended": 1}), "new")
    assert result.engagement_score == 10 + 15  # page views capped at 10
    assert result.stage == "mql"


def test_demo_request_makes_a_fitting_lead_sql(agreement: CompiledAgreement) -> None:
    result = agreement.qualify(lead_facts(ENTERPRISE_DE, {"demo_request": 1}), "new")
    assert result.stage == "sql"
    assert ("stage.sql", "stage") in [(f.rule, f.kind) for f in result.fired]


def test_poor_fit_stays_engaged(agreement: CompiledAgreement) -> None:
    small = {"email": "x@tiny.io", "industry": "retail", "employees": 5}
    result = agreement.qualify(lead_facts(small, {"demo_request": 1}), "new")
    assert result.stage == "engaged"


@pytest.mark.parametrize(
    ("profile", "rule"),
    [
        ({**ENTERPRISE_DE, "email": "ada@gmail.com"}, "free-mail"),
        ({**ENTERPRISE_DE, "seniority": "student"}, "student"),
        ({**ENTERPRISE_DE, "tags": ["inbound", "competitor"]}, "competitor"),
    ],
)
def test_disqualifiers(agreement: CompiledAgreement, profile: dict[str, Any], rule: str) -> None:
    result = agreement.qualify(lead_facts(profile, {"demo_request": 1}), "engaged")
    assert result.stage == DISQUALIFIED
    assert (rule, "disqualifier") in [(f.rule, f.kind) for f in result.fired]


def test_disqualifier_does_not_demote_a_qualified_lead(agreement: CompiledAgreement) -> None:
    result = agreement.qualify(lead_facts({**ENTERPRISE_DE, "email": "ada@gmail.com"}, {}), "mql")
    assert result.stage == "mql"


def test_source_assertion_is_a_floor(agreement: CompiledAgreement) -> None:
    result = agreement.qualify(lead_facts({"email": "x@tiny.io"}, {}), "new", asserted="mql")
    assert result.stage == "mql"
    assert ("source.mql", "source") in [(f.rule, f.kind) for f in result.fired]


def test_routing_first_match_then_fallback(agreement: CompiledAgreement) -> None:
    assert agreement.route(lead_facts(ENTERPRISE_DE, {})).queue == "enterprise-dach"
    assert agreement.route(lead_facts({**ENTERPRISE_DE, "country": "US"}, {})).queue == "enterprise-na"
    assert agreement.route(lead_facts({**ENTERPRISE_DE, "country": "BE"}, {})).queue == "enterprise-global"
    small = agreement.route(lead_facts({"employees": 10}, {}))
    assert (small.queue, small.matched_by) == ("smb", "smb")
    unknown = agreement.route(lead_facts({}, {}))
    assert (unknown.queue, unknown.matched_by) == ("inside-sales", "inside-sales")
    assert agreement.queue_plans["inside-sales"].members == (("rep-lena", 1), ("rep-omar", 1))


def test_facts_flatten_attributes_activities_and_email_domain() -> None:
    facts = lead_facts({"email": "a@b.example", "attributes": {"plan": "pro"}}, {"page_view": 2})
    assert facts["email_domain"] == "b.example"
    assert facts["attributes.plan"] == "pro"
    assert facts["activity.page_view"] == 2
    assert facts["activity.demo_request"] == 0


def test_facts_hold_every_field_and_activity_type_with_defaults() -> None:
    """Absent profile fields are None and absent activities 0; weights come from ``weights`` when
    given (decayed), else from the counts, including activity types the vocabulary lacks."""
    created = datetime(2026, 3, 2, tzinfo=UTC)
    profile = {"country": "DE", "employees": 5}
    facts = lead_facts(profile, {}, weights={"demo_request": 0.5}, created_at=created)
    expected: dict[str, Any] = dict.fromkeys(PROFILE_FIELDS)
    expected |= {"country": "DE", "employees": 5, "created_at": created}
    expected |= {f"activity.{activity}": 0 for activity in ACTIVITY_TYPES}
    expected["weight.demo_request"] = 0.5
    assert facts == expected
    counted = lead_facts({}, {"page_view": 3, "custom_signal": 1})
    assert counted["activity.page_view"] == 3
    assert "activity.custom_signal" not in counted
    assert (counted["weight.page_view"], counted["weight.custom_signal"]) == (3, 1)


_stages = st.sampled_from([*RANK, DISQUALIFIED])


@given(current=_stages, evaluated=_stages, asserted=st.none() | _stages)
def test_stages_never_move_backwards(current: str, evaluated: str, asserted: str | None) -> None:
    after = advance(current, evaluated, asserted)
    if current != DISQUALIFIED and after != DISQUALIFIED:
        assert RANK[after] >= RANK[current]
    if current in ("mql", "sql"):
        assert after != DISQUALIFIED


@pytest.mark.parametrize(
    ("current", "evaluated", "asserted", "after"),
    [
        ("new", "engaged", None, "engaged"),
        ("engaged", "mql", None, "mql"),
        ("mql", "sql", None, "sql"),
        ("new", "sql", None, "sql"),  # stages can be skipped forward
        ("sql", "engaged", None, "sql"),  # a stricter agreement or faded engagement never demotes
        ("mql", "new", None, "mql"),
        ("new", DISQUALIFIED, None, DISQUALIFIED),
        ("engaged", DISQUALIFIED, None, DISQUALIFIED),
        ("mql", DISQUALIFIED, None, "mql"),  # disqualifiers apply before MQL only
        (DISQUALIFIED, "sql", None, DISQUALIFIED),  # only a source's assertion brings it back
        (DISQUALIFIED, "new", "mql", "mql"),
        ("new", "engaged", "mql", "mql"),  # an asserted stage is a floor
        ("sql", "new", "mql", "sql"),
        ("new", "new", DISQUALIFIED, DISQUALIFIED),
    ],
)
def test_each_stage_transition(current: str, evaluated: str, asserted: str | None, after: str) -> None:
    assert advance(current, evaluated, asserted) == after


def test_reached() -> None:
    assert reached("sql", "mql")
    assert not reached("engaged", "mql")
    assert not reached(DISQUALIFIED, "mql")


def test_first_touch_deadline() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert due_at(start, timedelta(hours=4)) == datetime(2026, 3, 29, 4, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 1, 1), timedelta(hours=1))
    assert progress("first_touch", "touched", 0, None) == (0, True)
    assert progress("first_touch", "meeting_booked", 0, None) == (0, True)
    assert progress("first_touch", "accepted", 0, None) == (0, False)
