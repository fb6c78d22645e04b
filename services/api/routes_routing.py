"""Routing operations: ``/v1/reps`` (load, availability), ``/v1/queues`` (pause), lead reassignment."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Path, Request

from schemas.leads import LeadOut
from schemas.problems import PROBLEM_MEDIA_TYPE, Problem
from schemas.reps import AvailabilityIn, PauseIn, QueueList, QueueOut, ReassignIn, RepList, RepOut
from services.api.runtime import authorized
from services.db import rep_load
from services.db import repositories as repo

router = APIRouter(prefix="/v1", tags=["routing"])
_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
RepId = Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="The rep's id in the agreement")
QueueId = Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="The queue's id in the agreement")


@router.get("/reps", response_model=RepList, summary="Reps and their load")
async def list_reps(request: Request) -> RepList:
    """Every rep: queues, open leads, new leads today, out of office."""
    async with (await authorized(request, "read")).uow.read() as conn:
        rows = await rep_load.list_reps(conn)
    return RepList(reps=[RepOut.model_validate(row) for row in rows])


@router.put(
    "/reps/{rep_id}/availability",
    response_model=RepOut,
    summary="Set a rep out of office, or back",
    responses={
        404: {**_PROBLEM, "description": "No such rep"},
        422: {**_PROBLEM, "description": "Invalid body"},
    },
)
async def set_availability(body: AvailabilityIn, request: Request, rep_id: str = RepId) -> RepOut:
    """Out of office until a time (no new leads meanwhile), or back at once with ``null``."""
    runtime = await authorized(request, "admin")
    row = await runtime.manual.set_availability(rep_id, body.out_of_office_until, body.reason)
    if runtime.waiting_worker is not None:
        runtime.waiting_worker.wake()  # leads waiting in the rep's queues may be assigned now
    return RepOut.model_validate(row)


@router.get("/queues", response_model=QueueList, summary="Queues and whether they are paused")
async def list_queues(request: Request) -> QueueList:
    """Every queue of the roster (queues an agreement dropped stay listed)."""
    async with (await authorized(request, "read")).uow.read() as conn:
        rows = await rep_load.list_queues(conn)
    return QueueList(queues=[QueueOut.model_validate(row) for row in rows])


@router.put(
    "/queues/{queue_id}/pause",
    response_model=QueueOut,
    summary="Pause or resume a queue",
    responses={
        404: {**_PROBLEM, "description": "No such queue"},
        422: {**_PROBLEM, "description": "Invalid body"},
    },
)
async def pause_queue(body: PauseIn, request: Request, queue_id: str = QueueId) -> QueueOut:
    """While paused, leads routed to the queue wait unassigned; resuming assigns them."""
    runtime = await authorized(request, "admin")
    row = await runtime.manual.pause_queue(queue_id, body.paused, body.reason)
    if not body.paused and runtime.waiting_worker is not None:
        runtime.waiting_worker.wake()
    return QueueOut.model_validate(row)


@router.post(
    "/leads/{lead_id}/reassign",
    response_model=LeadOut,
    summary="Give a lead to another rep of its queue",
    responses={
        404: {**_PROBLEM, "description": "No such lead"},
        409: {**_PROBLEM, "description": "The lead is not in a queue (not routed, recycled or closed)"},
        422: {**_PROBLEM, "description": "The rep is not a member of the lead's queue"},
    },
)
async def reassign_lead(lead_id: uuid.UUID, body: ReassignIn, request: Request) -> LeadOut:
    """Moves the lead, its open clocks and the open-lead counts; emits lead.handed_off to the new owner."""
    runtime = await authorized(request, "admin")
    await runtime.manual.reassign(lead_id, body.rep_id, body.reason)
    async with runtime.uow.read() as conn:
        detail = await repo.lead_detail(conn, lead_id)
    return LeadOut.model_validate(detail)
