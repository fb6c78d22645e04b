"""Operational routes: the event feed, health, readiness and metrics."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from schemas.asyncapi import asyncapi_document, topic_names
from schemas.events import CloudEvent, EventFeedPage
from services import metrics
from services.api.runtime import Runtime, authorized
from services.db import repositories as repo

feed_router = APIRouter(prefix="/v1", tags=["events"])
ops_router = APIRouter(tags=["operations"])


@feed_router.get("/events", response_model=EventFeedPage, summary="Read the event feed")
async def read_events(
    request: Request,
    after: int = Query(
        default=0, ge=0, le=2**63 - 1, description="Cursor: the next_cursor of the previous page"
    ),
    limit: int = Query(default=100, ge=1, le=1000),
) -> EventFeedPage:
    """Every event leadrouter produced (the same CloudEvents as on Kafka), oldest first."""
    runtime = await authorized(request, "read")
    async with runtime.uow.read() as conn:
        rows = await repo.events_after(conn, after, limit)
    events = [CloudEvent.model_validate(row["event"]) for row in rows]
    return EventFeedPage(events=events, next_cursor=rows[-1]["id"] if rows else after)


@ops_router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@ops_router.get("/readyz", summary="Readiness", responses={503: {"description": "A dependency is down"}})
async def readyz(request: Request) -> Response:
    """The database answers, and Kafka too when it is configured (and required for readiness)."""
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, Any] = {}
    try:
        async with runtime.uow.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
    required_ok = checks["database"] == "ok"
    if runtime.relay is not None:
        reachable = await runtime.relay.broker_reachable()
        checks["kafka"] = "ok" if reachable else "unreachable"
        if runtime.settings.readyz_requires_kafka:
            required_ok = required_ok and reachable
    else:
        checks["kafka"] = "disabled"
    return JSONResponse(
        {"status": "ready" if required_ok else "not ready", "checks": checks}, 200 if required_ok else 503
    )


@ops_router.get("/asyncapi.json", summary="AsyncAPI document of the published events")
async def asyncapi(request: Request) -> dict[str, Any]:
    """AsyncAPI 3.0: the Kafka topics (as configured here), each event type and its payload schema."""
    settings = request.app.state.settings
    return asyncapi_document(topic_names(settings), request.app.version)


@ops_router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    """Prometheus text exposition of every leadrouter_* metric."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
