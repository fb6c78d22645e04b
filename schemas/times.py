"""Times the API accepts: aware, and within the years the service computes with.

A time such as ``0001-01-01T00:30:00+01:00`` is valid ISO 8601, but it lies before the first instant
Python can hold in UTC, and times near year 9999 leave no room for the month and quarter arithmetic of
reports. Requests carrying times outside ``EARLIEST`` .. ``LATEST`` (UTC) get a 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_RANGE = f"between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()} (UTC)"


def within_range(value: datetime | date) -> datetime | date:
    """``value`` if it lies within ``EARLIEST`` .. ``LATEST`` (a naive time or a date counts as UTC)."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    else:
        moment = datetime.combine(value, time(), UTC)
    # Compared aware: no conversion to UTC, which is what overflows at the ends of the calendar.
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be {_RANGE}")
    return value


Time = Annotated[AwareDatetime, AfterValidator(within_range)]
"""An aware time (UTC offset required) within the accepted years."""
