"""Pure ASGI middleware: request id, structured-log context and the latency histogram."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services import metrics


class RequestContextMiddleware:
    """Adds ``X-Request-ID`` (kept from the client if given) and records request latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # process-unique prefix + counter: unique across replicas without a syscall per request
        self._prefix = f"{os.urandom(4).hex()}-"
        self._counter = itertools.count(1)
        self._latency: dict[tuple[str, str, int], Any] = {}  # labelled histogram children, looked up once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        if not request_id:
            request_id = f"{self._prefix}{next(self._counter)}"
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            key = (template, scope["method"], status // 100)
            child = self._latency.get(key)
            if child is None:
                child = self._latency[key] = metrics.REQUEST_LATENCY.labels(key[0], key[1], f"{key[2]}xx")
            child.observe(time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")
