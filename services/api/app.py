"""The FastAPI application factory; engines, workers and the agreement are created in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import IntegrityError

from router.agreement import CompiledAgreement
from schemas.leads import ActivityIn, FeedbackIn, LeadIn
from schemas.problems import PROBLEM_MEDIA_TYPE
from services import metrics
from services.agreement_lifecycle import ActiveAgreement, AgreementLifecycle, roster_of
from services.agreements import agreement_id_of, read_agreement_file
from services.api import problems
from services.api.auth import KeyRing
from services.api.fast_path import IngestFastPath
from services.api.middleware import RequestContextMiddleware
from services.api.routes_agreements import router as agreements_router
from services.api.routes_leads import ingest_router
from services.api.routes_leads import router as leads_router
from services.api.routes_ops import feed_router, ops_router
from services.api.routes_reports import page_router as report_page_router
from services.api.routes_reports import router as reports_router
from services.api.routes_routing import router as routing_router
from services.api.routes_webhooks import router as webhooks_router
from services.api.runtime import Committer, Runtime
from services.clock import utcnow
from services.db import rep_load
from services.db.engine import create_engine
from services.db.uow import UnitOfWork
from services.errors import DomainError
from services.group_commit import GroupCommitter
from services.heap import prepare_heap_for_serving
from services.ingest import BatchEffects, IngestBatch, Reply
from services.logging import configure_logging
from services.manual_actions import ManualActions
from services.settings import Settings
from services.webhooks.config import load_webhook_sources
from services.workers.clocks import ClockWorker
from services.workers.feedback import FeedbackConsumer
from services.workers.relay import OutboxRelay
from services.workers.reviews import ReviewWorker
from services.workers.waiting import WaitingLeadsWorker
from services.writer.client import WriterProcess
from services.writer.wire import BatchReport

log = structlog.get_logger(__name__)


async def sync_roster(uow: UnitOfWork, agreement: CompiledAgreement) -> None:
    """Make the queues and reps tables match ``agreement`` (another worker may do it at the same time)."""
    for attempt in range(3):
        try:
            async with uow.transaction() as conn:
                await rep_load.sync_roster(conn, roster_of(agreement), utcnow())
        except IntegrityError:  # another worker synced at the same moment
            if attempt == 2:
                raise
        else:
            return


def _batch_recorder(relay: OutboxRelay | None) -> Callable[[BatchReport], None]:
    """Metrics for every committed ingest batch; wakes the relay when events were written."""

    def record(report: BatchReport) -> None:
        metrics.GROUP_COMMIT_SIZE.observe(report.size)
        for labels, count in report.outcomes.items():
            metrics.INGEST_EVENTS.labels(*labels).inc(count)
        for from_stage, to_stage in report.transitions:
            metrics.STAGE_TRANSITIONS.labels(from_stage, to_stage).inc()
        for queue in report.handoffs:
            metrics.HANDOFFS.labels(queue).inc()
        for queue in report.unassigned:
            metrics.UNASSIGNED.labels(queue).inc()
        for reason in report.recycled:
            metrics.RECYCLED.labels(reason).inc()
        for queue, obligation in report.clocks_met:
            metrics.SLA_MET.labels(queue, obligation).inc()
        for queue, seconds in report.first_touches:
            metrics.TIME_TO_FIRST_TOUCH.labels(queue).observe(seconds)
        if relay is not None and report.outbox_rows:
            relay.wake()

    return record


def _committer(
    settings: Settings, uow: UnitOfWork, active: ActiveAgreement, record: Callable[[BatchReport], None]
) -> Committer:
    if settings.ingest_writer == "process":
        return WriterProcess(settings, active.agreement_id, record)

    def on_commit(replies: list[Reply | DomainError], effects: BatchEffects, size: int) -> None:
        record(BatchReport.of(replies, effects, size))

    return GroupCommitter(
        uow,
        IngestBatch(active, settings, utcnow),
        settings.group_commit_max_batch,
        on_commit,
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    uow = UnitOfWork(engine)
    text = read_agreement_file(settings.agreement_path)
    running_id = agreement_id_of(text, settings.agreement_path)
    webhooks = load_webhook_sources(settings.webhooks_path) if settings.webhooks_path else {}
    for source in webhooks:  # at 0 from the start, so increase() sees the first rejection
        for reason in ("signature", "payload"):
            metrics.WEBHOOK_REJECTIONS.labels(source, reason)
    active = ActiveAgreement(running_id)  # one cache of the compiled active version for this process
    agreements = AgreementLifecycle(uow, settings, running_id, utcnow)
    agreement = await agreements.install_file(settings.agreement_path, text)
    await sync_roster(uow, agreement)
    metrics.start_sla_series([*agreement.queue_plans, agreement.fallback_queue], list(agreement.deadlines))
    relay = (
        OutboxRelay(uow, settings, utcnow)
        if settings.kafka_bootstrap_servers and settings.run_relay
        else None
    )
    clock_worker = (
        ClockWorker(uow, settings, active, utcnow, on_breach=relay.wake if relay else None)
        if settings.run_clock_worker
        else None
    )
    waiting_worker = (
        WaitingLeadsWorker(uow, settings, active, utcnow, on_assigned=relay.wake if relay else None)
        if settings.run_assignment_worker
        else None
    )
    committer = _committer(settings, uow, active, _batch_recorder(relay))
    await committer.start()
    feedback = (
        FeedbackConsumer(settings, committer)
        if settings.kafka_bootstrap_servers and settings.run_feedback_consumer
        else None
    )
    manual = ManualActions(uow, settings, active, utcnow)
    keys = KeyRing(uow, settings.api_keys)
    await keys.load()
    app.state.runtime = Runtime(
        settings,
        uow,
        agreements,
        committer,
        relay,
        clock_worker,
        waiting_worker,
        manual,
        keys,
        webhooks,
        active,
    )
    reviews = ReviewWorker(uow, settings, active, utcnow) if settings.review_worker_seconds > 0 else None
    for worker in (relay, clock_worker, waiting_worker, feedback, reviews):
        if worker is not None:
            worker.start()
    log.info(
        "service.started",
        agreement=agreement.version,
        database=engine.dialect.name,
        kafka="on" if relay else "off",
        ingest_writer=settings.ingest_writer,
        clock_worker=clock_worker is not None,
        assignment_worker=waiting_worker is not None,
        feedback_consumer=feedback is not None,
        authentication="on" if keys.enabled else "off (no API keys: local use only)",
    )
    prepare_heap_for_serving()
    try:
        yield
    finally:
        if feedback is not None:
            # First: what it consumed is committed (or consumed again) before the writer stops.
            await feedback.stop()
        await committer.stop()
        for worker in (reviews, waiting_worker, clock_worker, relay):
            if worker is not None:
                await worker.stop()
        await engine.dispose()
        log.info("service.stopped")


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (LeadIn, ActivityIn, FeedbackIn):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    _document_access_control(schema)
    app.openapi_schema = schema
    return schema


_ACCESS_ANSWERS = {
    "401": "No API key, or one that is unknown, wrong or revoked",
    "403": "The API key lacks this route's scope (ingest, feedback, read or admin)",
    "429": "The API key is over its rate limit; see Retry-After",
    "503": "The database is unavailable; nothing was stored (see Retry-After)",
}
_PARAMETER_ANSWERS = {"422": "A path or query parameter is invalid; `errors` names it"}
_BODY_ANSWERS = {
    "400": "Malformed body (not JSON, not UTF-8)",
    "413": "Body too large",
    "415": "Unsupported media type",
    "422": "Invalid body; `errors` names each field",
}


def _document_access_control(schema: dict[str, Any]) -> None:
    """Every /v1 operation: the API key schemes, and the answers every route can give (problem+json):
    401 / 403 / 429 / 503, 422 for bad parameters, 400 / 413 / 415 / 422 for bad bodies."""
    schema["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer lr_<id>_<secret>",
        },
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    problem = {"content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path, operations in schema["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for operation in operations.values():
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
            answers = dict(_ACCESS_ANSWERS)
            if operation.get("parameters"):
                answers |= _PARAMETER_ANSWERS
            if "requestBody" in operation:
                answers |= _BODY_ANSWERS
            responses = operation["responses"]
            if responses.get("422", {}).get("description") == "Validation Error":
                del responses["422"]  # FastAPI's default: ours is problem+json (services.api.problems)
            for status, description in answers.items():
                responses.setdefault(status, {"description": description, **problem})
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app (``uvicorn --factory services.api.app:create_app``)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="leadrouter",
        version="0.1.0",
        description="Qualifies and routes leads by the marketing/sales agreement; clocks the follow-up SLA.",
        lifespan=_lifespan,
        # Metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks would probe providers per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.add_middleware(IngestFastPath, routes=ingest_router.routes)
    app.add_middleware(RequestContextMiddleware)  # added last: outermost, around the fast path too
    problems.install(app)
    app.include_router(ingest_router)
    app.include_router(leads_router)
    app.include_router(webhooks_router)
    app.include_router(reports_router)
    app.include_router(report_page_router)
    app.include_router(agreements_router)
    app.include_router(routing_router)
    app.include_router(feed_router)
    app.include_router(ops_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
