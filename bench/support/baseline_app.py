"""Baseline for ``bench/ingest.py``: FastAPI + uvicorn parsing ``LeadIn``, no database, nothing else.

Served like the real service (uvloop, httptools, one worker, no access log), so the ratio of the two
throughputs is what routing, group commit and SQLite cost on top of HTTP + JSON validation.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI, Request
from starlette.responses import Response

from schemas.leads import LeadIn

# Telemetry off as in the service (services/api/app.py), so both pay the same framework costs.
app = FastAPI(
    title="leadrouter ingest baseline", telemetry={"tracing": False, "metrics": False, "logs": False}
)

_ACCEPTED = b'{"status":"accepted"}'


@app.post("/v1/leads", status_code=202)
async def accept_lead(request: Request) -> Response:
    """Validate the raw body as a ``LeadIn`` and answer 202."""
    LeadIn.model_validate_json(await request.body())
    return Response(_ACCEPTED, 202, media_type="application/json")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Readiness probe for the benchmark driver."""
    return {"status": "ok"}


if __name__ == "__main__":
    # Not a benchmark itself: bench/ingest.py serves it with
    # ``uvicorn --app-dir bench/support baseline_app:app --loop uvloop --http httptools --no-access-log``.
    print("bench/support/baseline_app.py is served by bench/ingest.py; nothing to do", file=sys.stderr)
