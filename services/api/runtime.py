"""The running service's parts, created in the app lifespan (never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from router.agreement import CompiledAgreement
from services.db.uow import UnitOfWork
from services.group_commit import GroupCommitter
from services.settings import Settings
from services.workers.clocks import ClockWorker
from services.workers.relay import OutboxRelay


def utcnow() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(UTC)


@dataclass
class Runtime:
    """Everything a request handler needs; stored on ``app.state.runtime``."""

    settings: Settings
    uow: UnitOfWork
    agreement: CompiledAgreement
    committer: GroupCommitter
    relay: OutboxRelay | None
    clock_worker: ClockWorker | None
    now: Callable[[], datetime] = utcnow
