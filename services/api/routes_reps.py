"""Rep routes: ``/v1/reps`` (load and availability)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request

from schemas.problems import PROBLEM_MEDIA_TYPE, Problem
from schemas.reps import AvailabilityIn, RepList, RepOut
from services.api.auth import require_api_key
from services.api.runtime import Runtime
from services.clock import utcnow
from services.db import rep_load
from services.errors import DomainError

router = APIRouter(prefix="/v1/reps", tags=["reps"])
_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
RepId = Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="The rep's id in the agreement")


def _runtime(request: Request) -> Runtime:
    require_api_key(request)
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("", response_model=RepList, summary="Reps and their load")
async def list_reps(request: Request) -> RepList:
    """Every rep: queues, open leads, new leads today, out of office."""
    async with _runtime(request).uow.read() as conn:
        rows = await rep_load.list_reps(conn)
    return RepList(reps=[RepOut.model_validate(row) for row in rows])


@router.put(
    "/{rep_id}/availability",
    response_model=RepOut,
    summary="Set a rep out of office, or back",
    responses={
        404: {**_PROBLEM, "description": "No such rep"},
        422: {**_PROBLEM, "description": "Invalid body"},
    },
)
async def set_availability(body: AvailabilityIn, request: Request, rep_id: str = RepId) -> RepOut:
    """Out of office until a time (no new leads meanwhile), or back at once with ``null``."""
    runtime = _runtime(request)
    async with runtime.uow.transaction() as conn:
        found = await rep_load.set_out_of_office(
            conn, rep_id, body.out_of_office_until, body.reason, utcnow()
        )
        if not found:
            raise DomainError(404, "rep-not-found", "Rep not found", f"no rep with id {rep_id}")
        (row,) = await rep_load.list_reps(conn, rep_id)
    if runtime.waiting_worker is not None:
        runtime.waiting_worker.wake()  # leads waiting in the rep's queues may be assigned now
    return RepOut.model_validate(row)
