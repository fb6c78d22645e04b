"""Indexes on the time columns reports filter by: leads created, stage changes, feedback, handoffs,
clocks closed, and outbox events of a type, each in a window.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 20:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = [
    ("ix_leads_created_at", "leads", ["created_at"]),
    ("ix_lead_events_kind_received_at", "lead_events", ["kind", "received_at"]),
    ("ix_decisions_decided_at", "decisions", ["decided_at"]),
    ("ix_outbox_type_created_at", "outbox", ["type", "created_at"]),
    ("ix_sla_clocks_started_at", "sla_clocks", ["started_at"]),
]
# Partial: a new clock has none of these, so inserting clocks does not pay for them.
_PARTIAL = ["closed_at", "warned_at", "fulfilled_at"]


def upgrade() -> None:
    """Apply this revision."""
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)
    for column in _PARTIAL:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_sla_clocks_{column}", "sla_clocks", [column], postgresql_where=where, sqlite_where=where
        )


def downgrade() -> None:
    """Revert this revision."""
    for column in reversed(_PARTIAL):
        op.drop_index(f"ix_sla_clocks_{column}", table_name="sla_clocks")
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
