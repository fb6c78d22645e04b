"""Driver-level decoding (``services.db.bulk``) reads SQLite values as SQLAlchemy's types read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects import sqlite

from services.db.bulk import RowDecoder
from services.db.tables import UTCDateTime, sla_clocks


def test_sqlite_timestamps_decode_as_aware_utc_whatever_their_stored_form() -> None:
    stored = [
        "2026-03-01 10:00:00.000001",  # as SQLAlchemy and the bulk writer store it: naive UTC
        "2026-03-01 10:00:00",
        "2026-03-01 10:00:00+01:00",  # written by raw SQL with its own offset
        None,
    ]
    decoded = [row["due_at"] for row in RowDecoder(sla_clocks, ["due_at"], "sqlite")([(v,) for v in stored])]
    assert decoded == [
        datetime(2026, 3, 1, 10, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 10, tzinfo=UTC),
        datetime(2026, 3, 1, 9, tzinfo=UTC),
        None,
    ]
    # the same as SQLAlchemy's own type gives for the parsed value
    by_sqlalchemy = [
        UTCDateTime().process_result_value(datetime.fromisoformat(v) if v else None, sqlite.dialect())
        for v in stored
    ]
    assert decoded == by_sqlalchemy
    assert all(value is None or value.utcoffset() == timedelta(0) for value in decoded)
