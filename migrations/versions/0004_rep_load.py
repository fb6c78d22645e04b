"""Rep load and fair assignment: per-membership credit, per-rep state, leads closed off a rep's load,
queues that can be paused, how often a lead was recycled, and the account a lead belongs to (new leads; existing ones get it on
their next update).

The rotation counter of queues (turns_taken) is replaced by smooth weighted round robin credit.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "rep_states",
        sa.Column("rep_id", sa.String(length=64), nullable=False),
        sa.Column("open_leads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("new_today", sa.Integer(), server_default="0", nullable=False),
        sa.Column("new_on", sa.Date(), nullable=True),
        sa.Column("out_of_office_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("out_of_office_reason", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rep_id", name=op.f("pk_rep_states")),
    )
    with op.batch_alter_table("reps") as batch:
        batch.add_column(sa.Column("credit", sa.BigInteger(), server_default="0", nullable=False))
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("turns_taken")
        batch.add_column(sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("paused_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("recycled_count", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("account_key", sa.String(length=300), nullable=True))
        batch.create_index(batch.f("ix_leads_account_key"), ["account_key"], unique=False)
    # Existing owners carry their open leads into the new load counts.
    op.execute(
        "INSERT INTO rep_states (rep_id, open_leads, new_today, updated_at)"
        " SELECT owner, COUNT(*), 0, MAX(updated_at) FROM leads WHERE owner IS NOT NULL GROUP BY owner"
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("leads") as batch:
        batch.drop_index(batch.f("ix_leads_account_key"))
        batch.drop_column("account_key")
        batch.drop_column("recycled_count")
        batch.drop_column("closed_at")
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("paused_reason")
        batch.drop_column("paused")
        batch.add_column(sa.Column("turns_taken", sa.BigInteger(), server_default="0", nullable=False))
    with op.batch_alter_table("reps") as batch:
        batch.drop_column("credit")
    op.drop_table("rep_states")
