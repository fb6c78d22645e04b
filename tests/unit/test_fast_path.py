"""IngestFastPath dispatch: POSTs to ingest routes are served there, everything else goes on."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from services.api.fast_path import IngestFastPath
from services.api.routes_leads import ingest_router


class _Recorder:
    """The next ASGI app: records what reached it and answers 204."""

    def __init__(self) -> None:
        self.paths: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _request(app: Any, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path, json={"outcome": "touched"})


async def test_ingest_posts_are_served_and_the_rest_passes_through() -> None:
    inner = _Recorder()
    app = IngestFastPath(inner, ingest_router.routes)
    refused = await _request(app, "POST", "/v1/leads/not-a-uuid/feedback")
    assert refused.status_code == 422  # answered here, before any database or runtime is needed
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["field"] == "path.lead_id"
    for method, path in [("GET", "/v1/leads"), ("POST", "/v1/leads/x/other"), ("POST", "/v1/leadsx")]:
        assert (await _request(app, method, path)).status_code == 204
    assert inner.paths == [("GET", "/v1/leads"), ("POST", "/v1/leads/x/other"), ("POST", "/v1/leadsx")]
