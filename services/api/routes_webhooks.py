"""``POST /v1/webhooks/{source}``: CRM deliveries, authenticated by their signature (not an API key)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response

from schemas.problems import PROBLEM_MEDIA_TYPE, Problem
from schemas.webhooks import WebhookAccepted
from services import metrics
from services.api.body import read_json_body
from services.api.runtime import Runtime
from services.errors import DomainError
from services.ingest_request import IngestRequest
from services.webhooks.adapters import read_delivery
from services.webhooks.mapping import PayloadError
from services.webhooks.signatures import SignatureError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["webhooks"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_PROBLEM, "description": "Malformed JSON"},
    401: {**_PROBLEM, "description": "Missing, stale or wrong signature"},
    404: {**_PROBLEM, "description": "No webhook source of that name is configured"},
    409: {**_PROBLEM, "description": "Delivery id reused with different content"},
    413: {**_PROBLEM, "description": "Body too large"},
    415: {**_PROBLEM, "description": "Not application/json"},
    422: {
        **_PROBLEM,
        "description": "A record does not fit; `errors` names it (nothing of the delivery is applied)",
    },
    503: {**_PROBLEM, "description": "Database unavailable; nothing stored, retry after Retry-After"},
}


@router.post(
    "/webhooks/{source}",
    response_model=WebhookAccepted,
    summary="Receive a CRM webhook delivery",
    responses=_RESPONSES,
    openapi_extra={
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"description": "The CRM's payload (see the README)"}}
            },
        },
    },
)
async def receive_webhook(source: str, request: Request) -> Response:
    """Verify the delivery's signature with the source's secret, map its records to lead fields and
    apply them all in one transaction; answers once committed. A redelivery changes nothing."""
    runtime: Runtime = request.app.state.runtime
    configured = runtime.webhooks.get(source)
    if configured is None:
        raise DomainError(
            404, "unknown-webhook-source", "Unknown webhook source", f"no webhook source '{source}'"
        )
    raw = await read_json_body(request, runtime.settings.max_body_bytes)
    try:
        delivery = read_delivery(
            configured, request.method, str(request.url), raw, request.headers, now=time.time()
        )
    except SignatureError as error:
        metrics.WEBHOOK_REJECTIONS.labels(source, "signature").inc()
        log.warning("webhook.signature_rejected", source=source, reason=error.reason)
        raise DomainError(
            401, "invalid-signature", "Invalid webhook signature", error.reason,
            headers={"WWW-Authenticate": "Signature"},
        ) from None  # fmt: skip
    except PayloadError as error:
        if error.errors[0].code == "json_invalid":
            raise DomainError(
                400, "malformed-json", "Malformed JSON", "the body is not valid JSON", errors=error.errors
            ) from None
        metrics.WEBHOOK_REJECTIONS.labels(source, "payload").inc()
        log.warning("webhook.payload_rejected", source=source, fields=[e.field for e in error.errors[:20]])
        names = ", ".join(e.field for e in error.errors[:5])
        raise DomainError(
            422, "invalid-webhook-payload", "Webhook payload refused",
            f"nothing of the delivery was applied; fix: {names}", errors=error.errors[:100],
        ) from None  # fmt: skip
    ingest = IngestRequest("webhook", delivery.model_dump_json(exclude_unset=True).encode())
    reply = await runtime.committer.ingest(ingest)
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return Response(orjson.dumps(reply.body), reply.status, headers=headers, media_type="application/json")
