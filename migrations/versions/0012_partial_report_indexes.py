"""Two report time indexes hold only the rows their reports read: feedback events, first-touch clocks.

Every ingested lead used to add an entry to the events' (kind, received_at) index, and every clock
of a handoff one to the clocks' started_at index, though reports read only feedback by time and only
first-touch clocks by start.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, old index and its columns, new partial index, its column, its predicate)
_CHANGES = [
    ("lead_events", "ix_lead_events_kind_received_at", ["kind", "received_at"],
     "ix_lead_events_feedback_received_at", "received_at", "kind = 'feedback'"),
    ("sla_clocks", "ix_sla_clocks_started_at", ["started_at"],
     "ix_sla_clocks_first_touch_started_at", "started_at", "obligation = 'first_touch'"),
]  # fmt: skip


def upgrade() -> None:
    """Apply this revision."""
    for table, old, _, new, column, predicate in _CHANGES:
        op.drop_index(old, table_name=table)
        where = sa.text(predicate)
        op.create_index(new, table, [column], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    """Revert this revision."""
    for table, old, columns, new, _, _ in reversed(_CHANGES):
        op.drop_index(new, table_name=table)
        op.create_index(old, table, columns)
