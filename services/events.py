"""Build CloudEvents for the outbox: stable ids derived from what caused them."""

from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from schemas.events import EVENT_SOURCE

_NAMESPACE = uuid.UUID("6b1f3c2e-8d4a-4e7b-9a55-1c0de5a1e7d1")


_NAMESPACE_BYTES = _NAMESPACE.bytes


def stable_event_id(cause: str, event_type: str) -> str:
    """The same cause and type always give the same event id, so a retried write repeats it.

    It is ``str(uuid.uuid5(namespace, cause NUL type))``, computed without building ``UUID`` objects
    (they were a sixth of the clock worker's time per breach).
    """
    name = f"{cause}\x00{event_type}".encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 9562 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@functools.lru_cache(maxsize=8)
def event_time(at: datetime) -> str:
    """``at`` in ISO 8601, as events carry it (cached: a batch's events share one time)."""
    return at.isoformat()


def outbox_row(
    *, topic: str, event_type: str, cause: str, subject: str, data: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """An outbox row holding a CloudEvents 1.0 structured-mode event keyed by ``subject``."""
    event_id = stable_event_id(cause, event_type)
    return {
        "event_id": event_id,
        "topic": topic,
        "key": subject,
        "type": event_type,
        "event": {
            "specversion": "1.0",
            "id": event_id,
            "source": EVENT_SOURCE,
            "type": event_type,
            "subject": subject,
            "time": event_time(at),
            "datacontenttype": "application/json",
            "data": data,
        },
        "created_at": at,
        "published_at": None,
    }


def clock_event_data(clock: dict[str, Any], at: datetime, used: timedelta) -> dict[str, Any]:
    """The data of an ``sla.*`` event about ``clock`` (a sla_clocks row) at ``at``, ``used`` of its time."""
    warn_at = clock.get("warn_at")
    return {
        "lead_id": str(clock["lead_id"]),
        "clock_id": str(clock["id"]),
        "obligation": clock["obligation"],
        "queue": clock["queue"],
        "rep_id": clock["rep_id"],
        "started_at": clock["started_at"].isoformat(),
        "due_at": clock["due_at"].isoformat(),
        "warn_at": warn_at.isoformat() if warn_at is not None else None,
        "calendar": clock.get("calendar"),
        "time_used_seconds": round(used.total_seconds(), 3),
        "paused_seconds": round(clock.get("paused_seconds") or 0.0, 3),
        "attempts_made": clock.get("attempts_made") if clock.get("attempts_required") else None,
        "attempts_required": clock.get("attempts_required"),
        "at": event_time(at),
    }


def handoff_event_data(
    lead: dict[str, Any], queue: str, rep_id: str | None, first_touch_due_at: datetime | None, version: str
) -> dict[str, Any]:
    """The data of a ``lead.handed_off`` event for ``lead`` (a row of leads)."""
    return {
        "lead_id": str(lead["id"]), "source": lead["source"], "external_id": lead["external_id"],
        "email": lead["email"], "company": lead["company"], "stage": lead["stage"], "queue": queue,
        "rep_id": rep_id, "fit_score": lead["fit_score"], "engagement_score": lead["engagement_score"],
        "agreement_version": version,
        "first_touch_due_at": first_touch_due_at.isoformat() if first_touch_due_at is not None else None,
    }  # fmt: skip
