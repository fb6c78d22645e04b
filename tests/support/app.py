"""Run the real app in-process (lifespan included) behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.agreement_lifecycle import ActiveAgreement
from services.api.app import create_app
from services.api.runtime import Runtime
from services.settings import Settings
from services.workers.clocks import ClockWorker


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The app started with ``settings`` and a client talking to it over ASGI."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://leadrouter.test") as client:
            yield client, app


def runtime_of(app: FastAPI) -> Runtime:
    """The app's running parts."""
    runtime: Runtime = app.state.runtime
    return runtime


@asynccontextmanager
async def app_with_clock_workers(
    db_url: str, agreement: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Callable[[datetime], ClockWorker]]]:
    """The app on ``agreement`` without its own clock worker, and a maker of clock workers on its
    database whose clock stands at a given time (the test decides when deadlines lapse)."""
    settings = Settings(
        database_url=db_url, agreement_path=agreement, kafka_bootstrap_servers=None, run_clock_worker=False
    )
    async with app_client(settings) as (client, app):
        runtime = runtime_of(app)

        def worker(at: datetime) -> ClockWorker:
            return ClockWorker(runtime.uow, settings, ActiveAgreement("acme-sla"), lambda: at)

        yield client, worker
