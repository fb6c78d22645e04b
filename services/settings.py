"""All configuration, from environment variables prefixed ``LEADROUTER_`` (or a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """leadrouter's settings; every field can be set as ``LEADROUTER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LEADROUTER_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./leadrouter.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user:pw@host/db",
    )
    database_pool_size: int = Field(default=10, ge=1, description="Connections per process (PostgreSQL)")
    sqlite_cache_mib: int = Field(
        default=8,
        ge=1,
        le=4096,
        description="SQLite page cache per connection of the API process (it keeps up to 10); the writer "
        "process's one connection keeps 64 MiB for the ingest lookups",
    )
    agreement_path: Path = Field(
        default=Path("deploy/agreements/example.yaml"), description="The active agreement file (YAML)"
    )
    webhooks_path: Path | None = Field(
        default=None,
        description="The webhook sources file (YAML): CRMs allowed to post to /v1/webhooks/{source}; "
        "unset = no webhook sources",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Comma-separated host:port list; unset = Kafka publishing off"
    )
    kafka_client_id: str = "leadrouter"
    kafka_enable_idempotence: bool = Field(
        default=False, description="Idempotent producer (enable on Apache Kafka; some brokers lack it)"
    )
    topic_handoff: str = Field(default="leads.handoff", description="Topic of lead.handed_off events")
    topic_lifecycle: str = Field(default="leads.lifecycle", description="Topic of lead.stage_changed events")
    topic_sla: str = Field(default="sla.events", description="Topic of sla.* events")
    topic_feedback: str = Field(default="leads.feedback", description="Topic sales tools send feedback to")
    feedback_consumer_group: str = Field(
        default="leadrouter-feedback", description="Consumer group of the feedback consumer"
    )
    run_feedback_consumer: bool = Field(
        default=True, description="Consume the feedback topic in this process (when Kafka is configured)"
    )
    readyz_requires_kafka: bool = Field(
        default=True, description="/readyz fails while the configured Kafka is unreachable"
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys accepted in 'Authorization: Bearer' or 'X-API-Key'; "
        "empty = no authentication (local use only)",
    )
    max_body_bytes: int = Field(default=65_536, ge=1024, description="Largest accepted request body")
    max_agreement_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest agreement text accepted by POST /v1/agreements"
    )
    group_commit_max_batch: int = Field(default=256, ge=1, description="Most requests per transaction")
    ingest_writer: Literal["process", "in_process"] = Field(
        default="process",
        description="Where ingest transactions run: a writer process beside each API process (uses a "
        "second core), or the API process itself",
    )
    run_relay: bool = Field(default=True, description="Run the outbox relay in this process")
    run_clock_worker: bool = Field(default=True, description="Run the SLA clock worker in this process")
    run_assignment_worker: bool = Field(
        default=True, description="Run the worker that assigns leads waiting in a queue in this process"
    )
    assignment_batch_size: int = Field(
        default=200, ge=1, description="Waiting leads looked at per transaction"
    )
    assignment_poll_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait between scans for waiting leads"
    )
    review_worker_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often the goal gauges are recomputed and due reviews announced (0: not here)",
    )
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0, description="Longest wait between outbox scans")
    relay_drain_seconds: float = Field(
        default=5.0, ge=0, description="On shutdown, how long the relay goes on publishing the outbox"
    )
    clock_batch_size: int = Field(default=500, ge=1)
    clock_poll_seconds: float = Field(default=1.0, gt=0, description="Longest wait between due-clock scans")
    clock_min_wait_seconds: float = Field(
        default=0.2,
        ge=0,
        description="Shortest wait between due-clock scans once nothing more is due: "
        "clocks falling due within it are handled in one transaction (adds at most this to detection lag)",
    )
    log_level: str = Field(default="INFO")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")
