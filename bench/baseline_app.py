"""Baseline for ``bench/ingest.py``: FastAPI + uvicorn parsing ``LeadIn``, no database, nothing else.

Served like the real service (uvloop, httptools, one worker, no access log), so the ratio of the two
throughputs is what routing, group commit and SQLite cost on top of HTTP + JSON validation.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import Response

from schemas.leads import LeadIn

app = FastAPI(title="leadrouter ingest baseline")

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


def main() -> None:
    """Serve ``app`` on ``--host``/``--port``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
