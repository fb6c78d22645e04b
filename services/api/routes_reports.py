"""``GET /v1/reports/sla``: both sides' KPIs over a window, against the agreement's goals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from schemas.problems import PROBLEM_MEDIA_TYPE, Problem
from schemas.reports import GroupBy, Scorecard, SlaReport
from services.api.params import AgreementId, Version, WindowEnd, WindowStart
from services.api.report_page import render_report_page
from services.api.runtime import authorized
from services.clock import utcnow
from services.errors import DomainError
from services.reports import report_window, sla_report
from services.scorecard import build_scorecard, scorecard

router = APIRouter(prefix="/v1", tags=["reports"])
page_router = APIRouter(tags=["reports"])
_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {**_PROBLEM, "description": "A bad window: from not before to, or longer than 400 days"},
}


@router.get("/reports/sla", response_model=SlaReport, response_model_by_alias=True, responses=_RESPONSES)
async def read_sla_report(
    request: Request,
    start: WindowStart = None,
    end: WindowEnd = None,
    group_by: Annotated[GroupBy | None, Query(description="Figures per queue, rep or source")] = None,
) -> SlaReport:
    """Marketing (leads, MQLs, SQLs against goals with pace, data completeness, rejections), sales
    (acceptance, time to first touch, attempts, obligations met/warned/breached, conversion) and routing
    (rep shares against weights, reassignments, unassigned waits) over [from, to)."""
    runtime = await authorized(request, "read")
    async with runtime.uow.read() as conn:
        agreement = await runtime.active.current(conn)
        goals = agreement.document.goals
        window = report_window(start, end, goals.period if goals else "month", utcnow())
        return await sla_report(conn, agreement, window, group_by)


@router.get(
    "/agreements/{agreement_id}/versions/{version}/scorecard",
    response_model=Scorecard,
    response_model_by_alias=True,
    summary="The review scorecard of an agreement version",
    responses={404: {**_PROBLEM, "description": "No such version"}, **_RESPONSES},
)
async def read_scorecard(
    request: Request,
    agreement_id: str = AgreementId,
    version: int = Version,
    start: WindowStart = None,
    end: WindowEnd = None,
) -> Scorecard:
    """Every goal and obligation of the version over [from, to): target, actual, status (met, on track,
    at risk, missed, no data) and the remediation the agreement prescribes for a miss; the review
    schedule and the termination conditions, for the review meeting."""
    runtime = await authorized(request, "read")
    agreement = await runtime.agreements.compiled(agreement_id, version)
    goals = agreement.document.goals
    window = report_window(start, end, goals.period if goals else "month", utcnow())
    async with runtime.uow.read() as conn:
        return await scorecard(conn, agreement, window)


@page_router.get(
    "/reports",
    response_class=HTMLResponse,
    summary="The printable report page",
    responses={200: {"content": {"text/html": {}}, "description": "The page"}, **_RESPONSES},
)
async def report_page(
    request: Request,
    start: WindowStart = None,
    end: WindowEnd = None,
) -> HTMLResponse:
    """Goal attainment, funnel, time to first touch, breaches per queue and week, and rejection reasons
    over [from, to), as one printable HTML page (a browser may sign in with an API key as the password
    of HTTP Basic authentication)."""
    try:
        runtime = await authorized(request, "read")
    except DomainError as error:
        if error.status == 401:  # ask the browser to sign in
            error.headers = {"WWW-Authenticate": 'Basic realm="leadrouter reports", charset="UTF-8"'}
        raise
    async with runtime.uow.read() as conn:
        agreement = await runtime.active.current(conn)
        goals = agreement.document.goals
        window = report_window(start, end, goals.period if goals else "month", utcnow())
        report = await sla_report(conn, agreement, window, None)
    return HTMLResponse(render_report_page(report, build_scorecard(agreement, report, window)))
