"""The ingest fast path answers exactly as the framework's own routing of the same routes would."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.api.fast_path import IngestFastPath
from services.settings import Settings
from tests.support.app import app_client
from tests.support.leads import lead_body

UNKNOWN_LEAD = "6f1c0b53-0000-4000-8000-000000000000"
JSON = {"content-type": "application/json"}

# (method, path, headers, body): successes, and every way an ingest request can be refused
REQUESTS: list[tuple[str, str, dict[str, str], bytes]] = [
    ("POST", "/v1/leads", JSON, httpx.Request("POST", "/", json=lead_body(external_id="fp-1")).read()),
    ("POST", "/v1/leads", {**JSON, "idempotency-key": "k" * 129}, b'{"source": "web"}'),
    ("POST", "/v1/leads", JSON, b'{"source": "x", '),
    ("POST", "/v1/leads", JSON, b'{"source": "web", "external_id": "1", "email": "not-an-email"}'),
    ("POST", "/v1/leads", {"content-type": "text/plain"}, b"source=x"),
    ("POST", "/v1/leads", JSON, b"x" * 5000),
    ("POST", f"/v1/leads/{UNKNOWN_LEAD}/activities", JSON, b'{"type": "page_view"}'),
    ("POST", f"/v1/leads/{UNKNOWN_LEAD}/activities", JSON, b'{"type": "telepathy"}'),
    ("POST", "/v1/leads/not-a-uuid/feedback", JSON, b'{"outcome": "touched"}'),
    ("POST", f"/v1/leads/{UNKNOWN_LEAD}/feedback", {}, b'{"outcome": "touched"}'),
    ("GET", "/v1/leads/not-a-uuid", {}, b""),
    ("PUT", "/v1/leads", JSON, b"{}"),
]


def _settings(db_url: str, agreement: Path) -> Settings:
    return Settings(
        database_url=db_url, agreement_path=agreement, kafka_bootstrap_servers=None, max_body_bytes=4096,
        ingest_writer="in_process", run_clock_worker=False, run_assignment_worker=False,
    )  # fmt: skip


def _without_fast_path(app: FastAPI) -> None:
    """Route every request through the framework (before the first request builds the stack)."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not IngestFastPath]  # type: ignore[comparison-overlap]


def _comparable(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "lead_id"}  # ids are new in each database
    headers = {k: v for k, v in response.headers.items() if k not in {"x-request-id", "content-length"}}
    return response.status_code, headers, body


async def _answers(settings: Settings, fast: bool) -> list[tuple[Any, ...]]:
    async with app_client(settings) as (client, app):
        if not fast:
            _without_fast_path(app)
        answers = []
        for method, path, headers, body in REQUESTS:
            response = await client.request(method, path, headers=headers, content=body)
            answers.append(_comparable(response))
        metrics = (await client.get("/metrics")).text
    served = 'route="/v1/leads",status="2xx"' in metrics.replace('method="POST",', "")
    assert served, "the latency metric names the ingest route's template"
    return answers


async def test_the_fast_path_answers_as_the_framework_would(
    sqlite_template: Path, agreement_file: Path, tmp_path: Path
) -> None:
    """HTTP-layer behaviour, so one database kind: two fresh SQLite files, same requests."""
    databases = []
    for name in ("fast.db", "framework.db"):
        shutil.copy(sqlite_template, tmp_path / name)
        databases.append(f"sqlite+aiosqlite:///{tmp_path / name}")
    fast = await _answers(_settings(databases[0], agreement_file), fast=True)
    framework = await _answers(_settings(databases[1], agreement_file), fast=False)
    statuses = [answer[0] for answer in fast]
    assert statuses == [201, 422, 400, 422, 415, 413, 404, 422, 422, 415, 422, 405]
    for request, mine, theirs in zip(REQUESTS, fast, framework, strict=True):
        assert mine == theirs, request[:2]
