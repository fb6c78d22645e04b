"""The outbox's report index becomes two partial ones, unassigned waits and handoffs by time.

Reports read the outbox by time only for these two event types; every stage change ingest wrote used
to add an entry to the (type, created_at) index as well.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "ix_outbox_type_created_at"
_NEW = {  # as in schemas.events (migrations do not import the application)
    "ix_outbox_unassigned_created_at": "com.leadrouter.lead.unassigned",
    "ix_outbox_handed_off_created_at": "com.leadrouter.lead.handed_off",
}


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index(_OLD, table_name="outbox")
    for name, event_type in _NEW.items():
        where = sa.text(f"type = '{event_type}'")
        op.create_index(name, "outbox", ["created_at"], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    """Revert this revision."""
    for name in reversed(_NEW):
        op.drop_index(name, table_name="outbox")
    op.create_index(_OLD, "outbox", ["type", "created_at"])
