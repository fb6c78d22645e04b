"""Leads keep decayed engagement weights per activity type, as of a time.

Existing leads start from their activity counts as of their last activity (each activity counted
fully then, decaying from there on).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 01:51:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("leads") as batch:
        batch.add_column(
            sa.Column("engagement_weights", JSON_DOC, server_default=sa.text("'{}'"), nullable=False)
        )
        batch.add_column(sa.Column("engagement_as_of", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE leads SET engagement_weights = activity_counts, engagement_as_of = last_activity_at")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("engagement_as_of")
        batch.drop_column("engagement_weights")
