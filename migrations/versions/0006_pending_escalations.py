"""Escalations run after the breach, in their own transaction: a queue of breached clocks whose
escalation is still to run (written with the breach, deleted with the escalation).

Clocks breached before this revision had their escalation run with the breach: none is pending.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "pending_escalations",
        sa.Column("clock_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clock_id"], ["sla_clocks.id"], name="fk_pending_escalations_clock_id_sla_clocks"
        ),
        sa.PrimaryKeyConstraint("clock_id", name="pk_pending_escalations"),
    )
    op.create_index("ix_pending_escalations_due_at", "pending_escalations", ["due_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_pending_escalations_due_at", table_name="pending_escalations")
    op.drop_table("pending_escalations")
