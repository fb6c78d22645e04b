"""API keys: their shape, what is stored of them, and what each scope allows (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.api_keys import allows, key_digest, key_id_of, make_key

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored() -> None:
    key, row = make_key("crm", ["read", "ingest", "read"], 120, NOW)
    assert key_id_of(key) == row["id"]
    assert row["scopes"] == "ingest read"  # deduplicated, in the vocabulary's order
    assert row["secret_sha256"] == key_digest(key)
    assert key.split("_", 2)[2] not in str(row)
    other, _ = make_key("crm", ["read"], None, NOW)
    assert other != key
    assert key_id_of(key[:-1]) is None  # a truncated key is not one of ours
    assert key_id_of("Bearer something") is None


@pytest.mark.parametrize(
    ("scopes", "rate_limit", "message"),
    [([], None, "scopes must be"), (["read", "root"], None, "not root"), (["read"], 0, "at least 1")],
)
def test_bad_key_requests_are_refused(scopes: list[str], rate_limit: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_key("x", scopes, rate_limit, NOW)


def test_admin_may_do_everything_and_other_scopes_only_their_own() -> None:
    assert allows(frozenset({"admin"}), "ingest")
    assert allows(frozenset({"ingest", "read"}), "read")
    assert not allows(frozenset({"ingest", "read"}), "feedback")
    assert not allows(frozenset({"read"}), "admin")
