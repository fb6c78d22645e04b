"""Rows of ``sla_clocks``: a deadline of the agreement started for one lead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from router.sla import ClockTimes
from services.ids import uuid7


def clock_columns(times: ClockTimes) -> dict[str, Any]:
    """The columns of a clock row set by its times (the worker looks at it first when it warns)."""
    return {
        "due_at": times.due_at, "warn_at": times.warn_at, "calendar": times.calendar,
        "check_at": times.warn_at or times.due_at,
    }  # fmt: skip


def new_clock(
    *,
    lead_id: uuid.UUID,
    obligation: str,
    queue: str | None,
    rep_id: str | None,
    started_at: datetime,
    times: ClockTimes,
    agreement_version: str,
) -> dict[str, Any]:
    """An open clock row for ``obligation`` of a lead, started at ``started_at``."""
    return {
        "id": uuid7(), "lead_id": lead_id, "obligation": obligation, "queue": queue, "rep_id": rep_id,
        "state": "open", "started_at": started_at, "closed_at": None, "agreement_version": agreement_version,
        "warned_at": None, **clock_columns(times),
    }  # fmt: skip
