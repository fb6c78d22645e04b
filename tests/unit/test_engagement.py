"""Engagement decay: each activity weighs 1 when it happens and halves every half-life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.agreement import lead_facts
from router.engagement import decayed, record_activity, weights_at
from services.agreements import load_agreement
from tests.conftest import EXAMPLE_AGREEMENT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_weight_halves_every_half_life() -> None:
    assert decayed(1.0, T0, T0 + timedelta(days=30), 30) == pytest.approx(0.5)
    assert decayed(1.0, T0, T0 + timedelta(days=90), 30) == pytest.approx(0.125)
    assert decayed(1.0, T0, T0 + timedelta(days=90), None) == 1.0
    assert decayed(1.0, T0, T0 - timedelta(days=1), 30) == 1.0


def test_recording_decays_what_was_there_and_adds_one() -> None:
    weights, as_of = record_activity({}, None, "page_view", T0, 10)
    assert (weights, as_of) == ({"page_view": 1.0}, T0)
    weights, as_of = record_activity(weights, as_of, "page_view", T0 + timedelta(days=10), 10)
    assert weights == {"page_view": pytest.approx(1.5)}
    weights, as_of = record_activity(weights, as_of, "demo_request", T0 + timedelta(days=20), 10)
    assert weights == {"page_view": pytest.approx(0.75), "demo_request": 1.0}
    assert as_of == T0 + timedelta(days=20)


def test_without_a_half_life_weights_are_counts() -> None:
    weights, as_of = record_activity({}, None, "chat", T0, None)
    for day in (5, 1, 9):  # in and out of order
        weights, as_of = record_activity(weights, as_of, "chat", T0 + timedelta(days=day), None)
    assert weights == {"chat": 4.0}
    assert weights_at(weights, as_of, T0 + timedelta(days=400), None) == {"chat": 4.0}


@given(
    ages=st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), min_size=1, max_size=30),
    half_life=st.floats(min_value=0.5, max_value=365),
    order=st.randoms(use_true_random=False),
)
def test_any_arrival_order_gives_the_sum_of_decayed_activities(
    ages: list[float], half_life: float, order: object
) -> None:
    """Late activities count as if they had arrived in time."""
    now = T0 + timedelta(days=500)
    times = [now - timedelta(days=age) for age in ages]
    arrival = list(times)
    order.shuffle(arrival)  # type: ignore[attr-defined]
    weights: dict[str, float] = {}
    as_of = None
    for at in arrival:
        weights, as_of = record_activity(weights, as_of, "page_view", at, half_life)
    expected = sum(0.5 ** ((now - at).total_seconds() / 86400 / half_life) for at in times)
    assert weights_at(weights, as_of, now, half_life)["page_view"] == pytest.approx(
        expected, rel=1e-6, abs=1e-8
    )


def test_the_example_agreement_scores_decayed_engagement() -> None:
    """A demo request is worth 40 points today, 20 after the 30-day half-life, 10 after two."""
    agreement = load_agreement(EXAMPLE_AGREEMENT)
    assert agreement.half_life_days == 30
    profile = {"email": "cto@northwind.io", "industry": "software", "employees": 300, "country": "US"}
    weights, as_of = record_activity({}, None, "demo_request", T0, agreement.half_life_days)
    scores = []
    for days in (0, 30, 60):
        now = T0 + timedelta(days=days)
        facts = lead_facts(profile, {"demo_request": 1}, weights=weights_at(weights, as_of, now, 30))
        scores.append(agreement.qualify(facts, "new", None, now).engagement_score)
    assert scores == [40, 20, 10]
