"""One place that turns every error into an RFC 9457 problem+json response."""

from __future__ import annotations

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from schemas.problems import PROBLEM_MEDIA_TYPE
from services.errors import DomainError, internal_error
from services.group_commit import database_unavailable
from services.ingest_request import field_errors

log = structlog.get_logger(__name__)

_HTTP_SLUGS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
}


def problem_response(error: DomainError, request: Request) -> Response:
    """Render ``error`` as problem+json."""
    body = error.problem(instance=request.url.path).model_dump(mode="json")
    return Response(orjson.dumps(body), error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE)


def unexpected_error_problem(error: Exception, path: str) -> DomainError:
    """The answer to an exception no handler expected: ``503`` (with Retry-After) when the database is
    unreachable (refused, dropped, shutting down: as on the ingest path), else ``500``, logged."""
    outage = isinstance(error, ConnectionError | TimeoutError) or (
        isinstance(error, DBAPIError) and not isinstance(error, IntegrityError | ProgrammingError | DataError)
    )
    if outage:
        log.warning("http.database_unavailable", path=path, error=type(error).__name__)
        return database_unavailable(error)
    log.error("http.unhandled_error", path=path, error=type(error).__name__, exc_info=error)
    return internal_error()


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return problem_response(exc, request)

    async def on_request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = field_errors(list(exc.errors()))
        names = ", ".join(f.field for f in fields[:5])
        error = DomainError(
            422, "validation-error", "Invalid request", f"invalid parameter(s): {names}", errors=fields
        )
        return problem_response(error, request)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        slug = _HTTP_SLUGS.get(exc.status_code, f"http-{exc.status_code}")
        error = DomainError(
            exc.status_code, slug, str(exc.detail), str(exc.detail), headers=dict(exc.headers or {})
        )
        return problem_response(error, request)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return problem_response(unexpected_error_problem(exc, request.url.path), request)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for error_type in (DBAPIError, ConnectionError, TimeoutError, Exception):
        app.add_exception_handler(error_type, on_unexpected)
