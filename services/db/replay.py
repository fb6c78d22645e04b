"""What a what-if replay reads: the leads with events in a window, with their whole stored history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.db.tables import decisions, lead_events, leads

Row = dict[str, Any]
_KINDS = ("lead", "activity", "feedback")


async def leads_with_events(conn: AsyncConnection, start: datetime, end: datetime) -> list[uuid.UUID]:
    """Leads with an inbound event in the window, in id order."""
    query = (
        sa.select(lead_events.c.lead_id)
        .where(
            lead_events.c.kind.in_(_KINDS),
            lead_events.c.received_at >= start,
            lead_events.c.received_at < end,
        )
        .distinct()
    )
    return sorted((await conn.execute(query)).scalars())


async def histories(
    conn: AsyncConnection, lead_ids: Sequence[uuid.UUID], end: datetime
) -> dict[str, list[Row]]:
    """For these leads: ``leads`` (id, created_at), their ``events`` and ``decisions`` before ``end``,
    oldest first."""
    chosen = list(lead_ids)
    events, decided = lead_events.c, decisions.c
    found = {
        "leads": sa.select(leads.c.id, leads.c.created_at).where(leads.c.id.in_(chosen)),
        "events": sa.select(events.lead_id, events.kind, events.payload, events.received_at)
        .where(events.lead_id.in_(chosen), events.received_at < end)
        .order_by(events.lead_id, events.id),
        "decisions": sa.select(
            decided.lead_id, decided.from_stage, decided.to_stage, decided.queue, decided.decided_at
        )
        .where(decided.lead_id.in_(chosen), decided.decided_at < end)
        .order_by(decided.lead_id, decided.id),
    }  # fmt: skip
    return {name: [dict(r) for r in (await conn.execute(query)).mappings()] for name, query in found.items()}
