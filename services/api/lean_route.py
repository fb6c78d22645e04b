"""An APIRoute for the ingest endpoints that skips FastAPI's per-request dependency machinery.

The ingest handlers take only the request and an optional ``lead_id`` path parameter and build their
own responses, so FastAPI's dependency solving, body handling and response serialisation do nothing
for them but cost CPU on every request. The route keeps its OpenAPI description (it is still an
``APIRoute``); only the request handler is replaced, through FastAPI's documented
``get_route_handler`` extension point.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from schemas.problems import FieldError
from services.errors import DomainError


class LeanIngestRoute(APIRoute):
    """Calls ``endpoint(request)`` or ``endpoint(lead_id, request)`` directly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler: path parameter parsed here, everything else by the endpoint."""
        endpoint = self.endpoint
        takes_lead_id = "{lead_id}" in self.path

        async def handle(request: Request) -> Response:
            if takes_lead_id:
                lead_id = _lead_id(request.path_params["lead_id"])
                response: Response = await endpoint(lead_id=lead_id, request=request)
            else:
                response = await endpoint(request=request)
            return response

        return handle


def _lead_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        error = FieldError(field="path.lead_id", message="Input should be a valid UUID", code="uuid_parsing")
        raise DomainError(
            422, "validation-error", "Invalid request", "invalid parameter(s): path.lead_id", errors=[error]
        ) from None
