"""Lead ingest and read routes: ``/v1/leads``, activities, feedback."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from schemas.leads import Accepted, ActivityIn, FeedbackIn, LeadIn, LeadOut
from schemas.problems import PROBLEM_MEDIA_TYPE, Problem
from services.api.body import read_json_body
from services.api.runtime import authorized
from services.db import repositories as repo
from services.errors import DomainError
from services.ingest import Reply
from services.ingest_request import IngestRequest, RequestKind

router = APIRouter(prefix="/v1", tags=["leads"])
ingest_router = APIRouter(prefix="/v1", tags=["leads"])  # served by IngestFastPath (fast_path.py)

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
_INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_PROBLEM, "description": "Malformed JSON"},
    401: {**_PROBLEM, "description": "Missing or invalid API key"},
    409: {**_PROBLEM, "description": "Idempotency key reused with a different body"},
    413: {**_PROBLEM, "description": "Body too large"},
    415: {**_PROBLEM, "description": "Not application/json"},
    422: {**_PROBLEM, "description": "A field is invalid; `errors` names it"},
    503: {**_PROBLEM, "description": "Database unavailable; nothing stored, retry after Retry-After"},
}
_IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 128},
    "description": "Replays with the same key return the first response and change nothing",
}


def _request_body(model: type[Any]) -> dict[str, Any]:
    return {
        "parameters": [_IDEMPOTENCY_HEADER],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        },
    }


async def _ingest(request: Request, kind: RequestKind, lead_id: uuid.UUID | None = None) -> Response:
    """Hand the raw body to the committer; validation happens once, where the transaction runs."""
    runtime = await authorized(request, "feedback" if kind == "feedback" else "ingest")
    raw = await read_json_body(request, runtime.settings.max_body_bytes)
    ingest = IngestRequest(kind, raw, lead_id, request.headers.get("idempotency-key"))
    reply: Reply = await runtime.committer.ingest(ingest)
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return Response(orjson.dumps(reply.body), reply.status, headers=headers, media_type="application/json")


@ingest_router.post(
    "/leads",
    status_code=201,
    response_model=Accepted,
    summary="Create or update a lead",
    responses={200: {"model": Accepted, "description": "Existing lead updated"}, **_INGEST_RESPONSES},
    openapi_extra=_request_body(LeadIn),
)
async def upsert_lead(request: Request) -> Response:
    """Create a lead (201) or update the one with the same source and external id (200).

    Answers only after the lead, its decision, its outbox events and its clocks are committed.
    """
    return await _ingest(request, "lead")


@ingest_router.post(
    "/leads/{lead_id}/activities",
    status_code=202,
    response_model=Accepted,
    summary="Record an engagement activity",
    responses={404: {**_PROBLEM, "description": "No such lead"}, **_INGEST_RESPONSES},
    openapi_extra=_request_body(ActivityIn),
)
async def record_activity(lead_id: uuid.UUID, request: Request) -> Response:
    """Record an activity (page view, webinar, demo request ...) and re-qualify the lead."""
    return await _ingest(request, "activity", lead_id)


@ingest_router.post(
    "/leads/{lead_id}/feedback",
    status_code=202,
    response_model=Accepted,
    summary="Record sales feedback",
    responses={404: {**_PROBLEM, "description": "No such lead"}, **_INGEST_RESPONSES},
    openapi_extra=_request_body(FeedbackIn),
)
async def record_feedback(lead_id: uuid.UUID, request: Request) -> Response:
    """Record feedback from sales; ``touched`` before the first-touch deadline meets that obligation."""
    return await _ingest(request, "feedback", lead_id)


@router.get(
    "/leads/{lead_id}",
    response_model=LeadOut,
    summary="A lead's state, explanation and timeline",
    responses={404: {**_PROBLEM, "description": "No such lead"}},
)
async def get_lead(lead_id: uuid.UUID, request: Request) -> LeadOut:
    """The lead's stage, scores, queue, owner, agreement version, decision explanation and timeline."""
    async with (await authorized(request, "read")).uow.read() as conn:
        detail = await repo.lead_detail(conn, lead_id)
    if detail is None:
        raise DomainError(404, "lead-not-found", "Lead not found", f"no lead with id {lead_id}")
    return LeadOut.model_validate(detail)
