"""The running service's parts, created in the app lifespan (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from services.agreement_lifecycle import ActiveAgreement, AgreementLifecycle
from services.api.auth import KeyRing, presented_key
from services.api_keys import Scope
from services.db.uow import UnitOfWork
from services.ingest import Reply
from services.ingest_request import IngestRequest
from services.manual_actions import ManualActions
from services.settings import Settings
from services.webhooks.config import WebhookSource
from services.workers.clocks import ClockWorker
from services.workers.relay import OutboxRelay
from services.workers.waiting import WaitingLeadsWorker


class Committer(Protocol):
    """Runs ingest commands durably: ``GroupCommitter`` in this process, or ``WriterProcess``."""

    async def start(self) -> None:
        """Start accepting commands."""

    async def stop(self) -> None:
        """Commit what is queued, then stop."""

    async def ingest(self, request: IngestRequest) -> Reply:
        """Validate and apply ``request``; return once it is committed (or raise a ``DomainError``)."""


async def authorized(request: Request, scope: Scope) -> Runtime:
    """The running parts, once the caller's API key may act in ``scope`` (every /v1 handler starts here)."""
    runtime: Runtime = request.app.state.runtime
    await runtime.keys.check(presented_key(request), scope)
    return runtime


@dataclass
class Runtime:
    """Everything a request handler needs; stored on ``app.state.runtime``."""

    settings: Settings
    uow: UnitOfWork
    agreements: AgreementLifecycle
    committer: Committer
    relay: OutboxRelay | None
    clock_worker: ClockWorker | None
    waiting_worker: WaitingLeadsWorker | None
    manual: ManualActions
    keys: KeyRing
    webhooks: dict[str, WebhookSource]
    active: ActiveAgreement  # the compiled version this service routes with
