"""Run the real app in-process (lifespan included) behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.api.app import create_app
from services.api.runtime import Runtime
from services.settings import Settings


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
