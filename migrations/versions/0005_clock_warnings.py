"""SLA clock warnings and business time: when a clock warns, whether it did, the next time the worker
must look at it (its warning, then its due time), and the working calendar it counts on.

Existing open clocks get no warning and are checked at their due time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("sla_clocks") as batch:
        batch.add_column(sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("check_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("calendar", sa.String(length=64), nullable=True))
    op.execute("UPDATE sla_clocks SET check_at = due_at")
    with op.batch_alter_table("sla_clocks") as batch:
        batch.alter_column("check_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_index("ix_sla_clocks_state_due_at")
        batch.create_index("ix_sla_clocks_state_check_at", ["state", "check_at"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("sla_clocks") as batch:
        batch.drop_index("ix_sla_clocks_state_check_at")
        batch.create_index("ix_sla_clocks_state_due_at", ["state", "due_at"])
        batch.drop_column("calendar")
        batch.drop_column("check_at")
        batch.drop_column("warned_at")
        batch.drop_column("warn_at")
