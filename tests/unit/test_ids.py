"""Time-ordered ids: valid version-7 UUIDs that sort by creation time."""

from __future__ import annotations

import time

from services.ids import uuid7


def test_uuid7_is_version_7_rfc_variant_and_unique() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert {u.version for u in ids} == {7}
    assert {u.variant for u in ids} == {"specified in RFC 4122"}


def test_uuid7_sorts_by_time_in_hex_and_binary() -> None:
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert first < second
    assert first.hex < second.hex  # SQLite stores the hex text
    assert abs((first.int >> 80) - time.time_ns() // 1_000_000) < 5_000
