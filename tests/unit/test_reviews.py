"""Review dates: on the agreement's cadence from valid_from, and a notice before valid_to."""

from __future__ import annotations

from datetime import UTC, date, datetime

from router.reports import percentile, period_end, period_start, prorated_goal
from router.reviews import ReviewDue, add_months, next_review, review_dates, reviews_due


def test_months_are_added_to_the_calendar() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_periodic_and_expiry_reviews_fall_due() -> None:
    assert review_dates(date(2026, 1, 1), 3, date(2026, 12, 31)) == [
        date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1),
    ]  # fmt: skip
    due = reviews_due(date(2026, 1, 1), date(2026, 12, 31), 3, 30, date(2026, 7, 1))
    assert due == [ReviewDue("periodic", date(2026, 4, 1)), ReviewDue("periodic", date(2026, 7, 1))]
    late = reviews_due(date(2026, 1, 1), date(2026, 12, 31), 6, 30, date(2026, 12, 1))
    assert late == [ReviewDue("periodic", date(2026, 7, 1)), ReviewDue("expiry", date(2026, 12, 1))]
    assert reviews_due(None, None, None, 30, date(2026, 7, 1)) == []
    assert next_review(date(2026, 1, 1), None, 3, date(2026, 4, 1)) == date(2026, 7, 1)
    assert next_review(date(2026, 1, 1), date(2026, 12, 31), 3, date(2026, 11, 16)) is None


def test_goal_periods_proration_and_percentiles() -> None:
    mid_may = datetime(2026, 5, 17, 13, tzinfo=UTC)
    assert period_start(mid_may, "week") == datetime(2026, 5, 11, tzinfo=UTC)  # a Monday
    assert period_start(mid_may, "quarter") == datetime(2026, 4, 1, tzinfo=UTC)
    assert period_end(datetime(2026, 11, 1, tzinfo=UTC), "quarter") == datetime(2027, 2, 1, tzinfo=UTC)
    may, june, july = (datetime(2026, m, 1, tzinfo=UTC) for m in (5, 6, 7))
    assert prorated_goal(310, "month", may, june) == 310  # a whole month: its goal
    assert prorated_goal(310, "month", datetime(2026, 5, 16, tzinfo=UTC), june) == 160  # 16 of 31 days
    assert prorated_goal(300, "month", may, july) == 600  # two months
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
