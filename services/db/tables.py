"""The database schema (SQLAlchemy Core). Alembic revisions must match it: ``alembic check`` proves it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from router.sla import FIRST_TOUCH
from schemas.events import LEAD_HANDED_OFF, LEAD_UNASSIGNED

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> sa.types.TypeEngine[Any]:
    """JSON documents: JSONB on PostgreSQL, JSON text on SQLite."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


_OWNED = sa.text("owner IS NOT NULL")
_FEEDBACK = sa.text("kind = 'feedback'")
_FIRST_TOUCH = sa.text(f"obligation = '{FIRST_TOUCH}'")
_UNASSIGNED = sa.text(f"type = '{LEAD_UNASSIGNED}'")
_HANDED_OFF = sa.text(f"type = '{LEAD_HANDED_OFF}'")

leads = sa.Table(
    "leads",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("source", sa.String(128), nullable=False),
    sa.Column("external_id", sa.String(128), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("company", sa.String(200)),
    sa.Column("profile", _json(), nullable=False),
    sa.Column("activity_counts", _json(), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("fit_score", sa.Integer(), nullable=False),
    sa.Column("engagement_score", sa.Integer(), nullable=False),
    sa.Column("queue", sa.String(64)),
    sa.Column("owner", sa.String(64)),
    sa.Column("agreement_version", sa.String(80)),
    sa.Column("last_activity_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # Decayed engagement per activity type as of engagement_as_of (router.engagement).
    sa.Column("engagement_weights", _json(), nullable=False, server_default=sa.text("'{}'")),
    sa.Column("engagement_as_of", UTCDateTime()),
    sa.Column("closed_at", UTCDateTime()),  # converted, disqualified or rejected: off the owner's load
    sa.Column("recycled_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("account_key", sa.String(300)),  # router.accounts: company domain or normalised name
    sa.UniqueConstraint("source", "external_id"),
    sa.Index(None, "email"),
    # Only leads with an owner: the index finds an account's owner (sticky queues). A lead gets an entry
    # when it is assigned, not when it arrives: most leads never are, and each new account key would
    # dirty its own index page in every group commit.
    sa.Index(None, "account_key", sqlite_where=_OWNED, postgresql_where=_OWNED),
    sa.Index(None, "created_at"),  # reports: leads created in a window
)

lead_events = sa.Table(
    "lead_events",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("event_key", sa.String(300), nullable=False, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("leads.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", _json(), nullable=False),
    sa.Column("response", _json(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    # reports: feedback in a window. Partial: ingested leads and activities, most events, stay out of it.
    sa.Index(
        "ix_lead_events_feedback_received_at",
        "received_at",
        sqlite_where=_FEEDBACK,
        postgresql_where=_FEEDBACK,
    ),
    sa.Index(None, "lead_id", "id"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("leads.id"), nullable=False),
    sa.Column("event_key", sa.String(300), nullable=False),
    sa.Column("agreement_version", sa.String(80), nullable=False),
    sa.Column("from_stage", sa.String(16), nullable=False),
    sa.Column("to_stage", sa.String(16), nullable=False),
    sa.Column("fit_score", sa.Integer(), nullable=False),
    sa.Column("engagement_score", sa.Integer(), nullable=False),
    sa.Column("queue", sa.String(64)),
    sa.Column("owner", sa.String(64)),
    sa.Column("explanation", _json(), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    sa.Index(None, "decided_at"),  # reports: stage changes in a window
    sa.Index(None, "lead_id", "id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("event", _json(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("published_at", UTCDateTime()),
    sa.Index(
        "ix_outbox_unpublished",
        "id",
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    ),
    # reports: unassigned waits in a window, and the handoffs that end them. Partial, one per type:
    # stage changes, most of what ingest writes here, stay out of both.
    *(
        sa.Index(f"ix_outbox_{name}_created_at", "created_at", sqlite_where=where, postgresql_where=where)
        for name, where in (("unassigned", _UNASSIGNED), ("handed_off", _HANDED_OFF))
    ),
)

sla_clocks = sa.Table(
    "sla_clocks",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("leads.id"), nullable=False),
    sa.Column("obligation", sa.String(64), nullable=False),
    sa.Column("queue", sa.String(64)),
    sa.Column("rep_id", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("agreement_version", sa.String(80), nullable=False),
    sa.Column("warn_at", UTCDateTime()),  # when sla.warning is due (none: no warning)
    sa.Column("warned_at", UTCDateTime()),
    sa.Column(
        "check_at", UTCDateTime(), nullable=False
    ),  # next time the clock worker looks: warn_at, then due_at
    sa.Column("calendar", sa.String(64)),  # the working calendar it counts on (none: wall clock)
    sa.Column("paused_at", UTCDateTime()),  # state paused: since when
    sa.Column("paused_seconds", sa.Float(), nullable=False, server_default="0"),  # pauses so far, its time
    sa.Column("attempts_made", sa.Integer(), nullable=False, server_default="0"),  # attempts clocks
    sa.Column("attempts_required", sa.Integer()),  # attempts clocks: how many the agreement asks for
    sa.Column("fulfilled_at", UTCDateTime()),  # when the obligation was fulfilled (also late: breached)
    sa.Index(None, "state", "check_at"),
    sa.Index(None, "lead_id"),
    # reports: handoffs (first-touch clocks started), and obligations closed, warned or fulfilled in a
    # window. All partial: a handoff's other clocks stay out of the first, and a new clock has none of
    # the last three, so inserting clocks pays for one small entry per handoff.
    sa.Index(
        "ix_sla_clocks_first_touch_started_at",
        "started_at",
        sqlite_where=_FIRST_TOUCH,
        postgresql_where=_FIRST_TOUCH,
    ),
    *(
        sa.Index(
            f"ix_sla_clocks_{column}",
            column,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )
        for column in ("closed_at", "warned_at", "fulfilled_at")
    ),
)

# Breached clocks whose escalation has not run yet: the clock worker writes one with each breach (in
# the breach's transaction) and deletes it in the transaction that runs the escalation, so each breach
# escalates exactly once, after the breach event went out rather than holding it up.
pending_escalations = sa.Table(
    "pending_escalations",
    metadata,
    sa.Column("clock_id", sa.Uuid(), sa.ForeignKey("sla_clocks.id"), primary_key=True),
    sa.Column("due_at", UTCDateTime(), nullable=False),  # escalations run in due order
    sa.Index(None, "due_at"),
)

queues = sa.Table(
    "queues",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),  # leads wait, unassigned
    sa.Column("paused_reason", sa.String(200)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

reps = sa.Table(
    "reps",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("queue_id", sa.String(64), sa.ForeignKey("queues.id"), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    # Smooth weighted round robin credit of this membership (router.assignment).
    sa.Column("credit", sa.BigInteger(), nullable=False, server_default="0"),
)

rep_states = sa.Table(
    "rep_states",
    metadata,
    sa.Column("rep_id", sa.String(64), primary_key=True),
    sa.Column("open_leads", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("new_today", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("new_on", sa.Date()),  # the rep's local day new_today counts
    sa.Column("out_of_office_until", UTCDateTime()),
    sa.Column("out_of_office_reason", sa.String(200)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

agreement_versions = sa.Table(
    "agreement_versions",
    metadata,
    sa.Column("agreement_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("valid", sa.Boolean(), nullable=False),
    sa.Column("problems", _json(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("activated_at", UTCDateTime()),
    sa.Column("retired_at", UTCDateTime()),
    sa.CheckConstraint("status IN ('draft', 'active', 'retired')", name="status"),
    # Exactly one active version per agreement, enforced by the database even under races.
    sa.Index(
        "ix_agreement_versions_one_active",
        "agreement_id",
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    ),
)

# API keys: the secret is shown once when a key is made; only its SHA-256 is stored (keys are 256-bit
# random, so a plain hash is enough: nothing to guess that a slow hash would protect).
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # public, part of the key: lr_<id>_<secret>
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("scopes", sa.String(100), nullable=False),  # space-separated: ingest feedback read admin
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("rate_limit_per_minute", sa.Integer()),  # none: not limited
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("delivery_key", sa.String(300), primary_key=True),  # webhook:<source>:<delivery id>
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", _json(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
)

# CRM records not yet leads (no e-mail so far): their mapped fields, merged until the e-mail arrives.
crm_contacts = sa.Table(
    "crm_contacts",
    metadata,
    sa.Column("source", sa.String(128), primary_key=True),
    sa.Column("external_id", sa.String(128), primary_key=True),
    sa.Column("fields", _json(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
