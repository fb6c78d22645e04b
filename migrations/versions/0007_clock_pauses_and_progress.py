"""SLA clock pauses, attempt counts and fulfilment: when a paused clock was paused and how long its
pauses lasted (deducted from its time), how many contact attempts an attempts clock has seen of how
many required, and when the obligation was fulfilled (a late touch of a breached first-touch clock too).

Existing clocks: never paused, no attempts, fulfilment unknown (met clocks: their closing time).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("sla_clocks") as batch:
        batch.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("paused_seconds", sa.Float(), server_default="0", nullable=False))
        batch.add_column(sa.Column("attempts_made", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("attempts_required", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE sla_clocks SET fulfilled_at = closed_at WHERE state = 'met'")


def downgrade() -> None:
    """Revert this revision (paused clocks run again, their pause not deducted)."""
    op.execute("UPDATE sla_clocks SET state = 'open' WHERE state = 'paused'")
    with op.batch_alter_table("sla_clocks") as batch:
        batch.drop_column("fulfilled_at")
        batch.drop_column("attempts_required")
        batch.drop_column("attempts_made")
        batch.drop_column("paused_seconds")
        batch.drop_column("paused_at")
