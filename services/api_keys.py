"""API keys: making them, recognising them, and what each scope allows.

A key reads ``lr_<id>_<secret>``: the id is public (it names the key in lists, logs and rate limits),
the secret is 256 random bits shown once when the key is made. Only the SHA-256 of the whole key is
stored. Scopes: ``ingest`` (leads and activities), ``feedback``, ``read`` (lead details, the event
feed, reps, queues, agreements) and ``admin`` (everything, including agreement drafts and activation,
reassignment, rep availability and queue pauses).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any, Literal, get_args

Scope = Literal["ingest", "feedback", "read", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
ADMIN: Scope = "admin"
_KEY = re.compile(r"^lr_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


def key_digest(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The id part of a presented key, or None if it is not shaped like one of ours."""
    match = _KEY.match(presented)
    return match.group(1) if match else None


def make_key(
    name: str, scopes: list[str], rate_limit_per_minute: int | None, now: datetime
) -> tuple[str, dict[str, Any]]:
    """A new key: the text to hand out (shown once) and the row to store."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ValueError(
            f"scopes must be some of {', '.join(SCOPES)}" + (f"; not {', '.join(unknown)}" if unknown else "")
        )
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        raise ValueError("the rate limit is at least 1 request per minute")
    key_id = secrets.token_hex(6)
    key = f"lr_{key_id}_{secrets.token_urlsafe(32)}"
    row = {
        "id": key_id, "name": name, "scopes": " ".join(sorted(set(scopes), key=SCOPES.index)),
        "secret_sha256": key_digest(key), "rate_limit_per_minute": rate_limit_per_minute,
        "created_at": now, "revoked_at": None,
    }  # fmt: skip
    return key, row


def allows(scopes: frozenset[str], needed: Scope) -> bool:
    """Whether a key with ``scopes`` may do what needs ``needed`` (admin may do everything)."""
    return needed in scopes or ADMIN in scopes
