"""The agreement lifecycle API: ``/v1/agreements`` (validate, drafts, list, show, diff, activate, retire)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from router.diff import diff_documents
from schemas.agreement_api import (
    AGREEMENT_MEDIA_TYPES,
    AgreementChange,
    AgreementDiff,
    AgreementValidation,
    AgreementVersionDetail,
    AgreementVersionList,
    AgreementVersionOut,
)
from schemas.problems import PROBLEM_MEDIA_TYPE, Problem
from schemas.simulation import Simulation
from services.agreement_lifecycle import AgreementLifecycle, problem_errors
from services.agreements import check_agreement, read_header
from services.api.body import read_text_body
from services.api.params import AGREEMENT_ID_PATTERN, AgreementId, Version, WindowEnd, WindowStart
from services.api.runtime import authorized
from services.api_keys import Scope
from services.clock import utcnow
from services.errors import DomainError
from services.reports import report_window
from services.simulation import simulate

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])

_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}
_TEXT_BODY = {
    "requestBody": {
        "required": True,
        "description": "The agreement document (YAML; JSON is accepted too)",
        "content": {media: {"schema": {"type": "string"}} for media in AGREEMENT_MEDIA_TYPES},
    }
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_PROBLEM, "description": "Missing or invalid API key"},
    413: {**_PROBLEM, "description": "Body too large"},
    415: {**_PROBLEM, "description": "Not YAML or JSON"},
}


async def _lifecycle(request: Request, scope: Scope) -> AgreementLifecycle:
    return (await authorized(request, scope)).agreements


async def _text(request: Request) -> str:
    settings = request.app.state.runtime.settings
    return await read_text_body(request, settings.max_agreement_bytes, AGREEMENT_MEDIA_TYPES)


def _out(row: dict[str, Any]) -> AgreementVersionOut:
    return AgreementVersionOut.model_validate(row)


@router.post(
    "/validate",
    response_model=AgreementValidation,
    summary="Check an agreement without storing it",
    openapi_extra=_TEXT_BODY,
    responses=_BODY_ERRORS,
)
async def validate_agreement(request: Request) -> AgreementValidation:
    """Compile every rule and run the embedded test cases; problems name line, column and field."""
    await _lifecycle(request, "read")
    text = await _text(request)
    check = check_agreement(text, "body")
    header = read_header(text)
    return AgreementValidation(
        valid=check.valid,
        agreement_id=header[0] if header else None,
        version=header[1] if header else None,
        problems=problem_errors(check),
    )


@router.post(
    "",
    response_model=AgreementVersionOut,
    status_code=201,
    summary="Store a draft version",
    openapi_extra=_TEXT_BODY,
    responses={
        **_BODY_ERRORS,
        200: {"model": AgreementVersionOut, "description": "The same text was stored before"},
        409: {**_PROBLEM, "description": "This id and version are stored with another text"},
        422: {**_PROBLEM, "description": "No usable id and version; `errors` says where"},
    },
)
async def create_draft(request: Request, response: Response) -> AgreementVersionOut:
    """Store the text as a draft of the id and version it declares (problems are stored with it)."""
    lifecycle = await _lifecycle(request, "admin")
    row, created = await lifecycle.create_draft(await _text(request))
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/agreements/{row['agreement_id']}/versions/{row['version']}"
    return _out(row)


@router.get("", response_model=AgreementVersionList, summary="List stored versions")
async def list_versions(
    request: Request,
    agreement_id: str | None = Query(
        default=None, pattern=AGREEMENT_ID_PATTERN, description="Only this agreement"
    ),
) -> AgreementVersionList:
    """Every stored version (optionally of one agreement), with status and validity."""
    rows = await (await _lifecycle(request, "read")).list(agreement_id)
    return AgreementVersionList(versions=[_out(row) for row in rows])


@router.get(
    "/{agreement_id}/versions/{version}",
    response_model=AgreementVersionDetail,
    summary="Show one version",
    responses={404: {**_PROBLEM, "description": "No such version"}},
)
async def show_version(
    request: Request, agreement_id: str = AgreementId, version: int = Version
) -> AgreementVersionDetail:
    """The version's status, problems, YAML source and validated document."""
    row, agreement = await (await _lifecycle(request, "read")).show(agreement_id, version)
    document = agreement.document.model_dump(mode="json") if agreement is not None else None
    return AgreementVersionDetail.model_validate({**row, "document": document})


@router.get(
    "/{agreement_id}/diff",
    response_model=AgreementDiff,
    summary="Diff two versions",
    responses={
        404: {**_PROBLEM, "description": "No such version"},
        422: {**_PROBLEM, "description": "A version does not compile"},
    },
)
async def diff_versions(
    request: Request,
    agreement_id: str = AgreementId,
    from_version: int = Query(alias="from", ge=1, le=2**31 - 1, description="The older version"),
    to_version: int = Query(alias="to", ge=1, le=2**31 - 1, description="The newer version"),
) -> AgreementDiff:
    """Every changed leaf, by path; rules, queues and cases keyed by their id."""
    lifecycle = await _lifecycle(request, "read")
    before = await lifecycle.compiled(agreement_id, from_version)
    after = await lifecycle.compiled(agreement_id, to_version)
    changes = [
        AgreementChange(op=c.op, path=c.path, before=c.before, after=c.after)
        for c in diff_documents(before.document, after.document)
    ]
    return AgreementDiff(
        agreement_id=agreement_id, from_version=from_version, to_version=to_version, changes=changes
    )


@router.post(
    "/{agreement_id}/versions/{version}/activate",
    response_model=AgreementVersionOut,
    summary="Activate a version",
    responses={
        401: {**_PROBLEM, "description": "Missing or invalid API key"},
        404: {**_PROBLEM, "description": "No such version"},
        422: {**_PROBLEM, "description": "The version has problems; `errors` lists them"},
    },
)
async def activate_version(
    request: Request, agreement_id: str = AgreementId, version: int = Version
) -> AgreementVersionOut:
    """Make it the one active version (the previous one is retired); ingest switches at this commit."""
    return _out(await (await _lifecycle(request, "admin")).activate(agreement_id, version))


@router.post(
    "/{agreement_id}/versions/{version}/retire",
    response_model=AgreementVersionOut,
    summary="Retire a version",
    responses={
        401: {**_PROBLEM, "description": "Missing or invalid API key"},
        404: {**_PROBLEM, "description": "No such version"},
        409: {**_PROBLEM, "description": "It is the active version this service routes with"},
    },
)
async def retire_version(
    request: Request, agreement_id: str = AgreementId, version: int = Version
) -> AgreementVersionOut:
    """Retire a draft, or the active version of an agreement this service does not route with."""
    return _out(await (await _lifecycle(request, "admin")).retire(agreement_id, version))


@router.post(
    "/{agreement_id}/simulate",
    response_model=Simulation,
    response_model_by_alias=True,
    summary="What-if: replay a window under a candidate version",
    openapi_extra=_TEXT_BODY,
    responses={
        **_BODY_ERRORS,
        422: {
            **_PROBLEM,
            "description": "The candidate does not compile, is another agreement, or a bad window",
        },
    },
)
async def simulate_agreement(
    request: Request,
    agreement_id: str = AgreementId,
    start: WindowStart = None,
    end: WindowEnd = None,
) -> Simulation:
    """Replay every lead with an event in [from, to) (default: the current goal period) under the
    candidate agreement in the body, and compare with what happened: MQL/SQL volume (by the
    candidate's segments), handoffs per queue, projected load per rep against capacity, and the leads
    whose stage or queue would differ. Nothing is written and no event is published."""
    runtime = await authorized(request, "read")
    text = await _text(request)
    check = check_agreement(text, "body")
    if check.agreement is None:
        raise DomainError(
            422, "agreement-invalid", "Invalid agreement", "the candidate does not compile",
            errors=problem_errors(check),
        )  # fmt: skip
    candidate = check.agreement
    if candidate.document.id != agreement_id:
        raise DomainError(
            422, "agreement-mismatch", "Another agreement",
            f"the candidate is agreement '{candidate.document.id}', not '{agreement_id}'",
        )  # fmt: skip
    goals = candidate.document.goals
    window = report_window(start, end, goals.period if goals else "month", utcnow())
    async with runtime.uow.read() as conn:
        return await simulate(conn, candidate, window)
