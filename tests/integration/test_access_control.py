"""API keys with scopes on every /v1 route, revocation, rate limits, and keys kept out of logs, on
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.api_keys import make_key
from services.db import api_keys as key_repo
from services.db.uow import UnitOfWork
from services.settings import Settings
from tests.support.app import app_client, runtime_of
from tests.support.leads import lead_body, qualified_lead_body

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)
ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    # (scope needed, method, path, JSON body): every /v1 route
    ("ingest", "POST", "/v1/leads", None),
    ("ingest", "POST", "/v1/leads/{lead}/activities", {"type": "page_view"}),
    ("feedback", "POST", "/v1/leads/{lead}/feedback", {"outcome": "touched"}),
    ("read", "GET", "/v1/leads/{lead}", None),
    ("read", "GET", "/v1/events", None),
    ("read", "GET", "/v1/reps", None),
    ("read", "GET", "/v1/queues", None),
    ("read", "GET", "/v1/agreements", None),
    ("read", "GET", "/v1/agreements/acme-sla/versions/1", None),
    ("read", "GET", "/v1/agreements/acme-sla/diff?from=1&to=1", None),
    ("read", "POST", "/v1/agreements/validate", None),
    ("read", "GET", "/v1/reports/sla", None),
    ("read", "GET", "/v1/agreements/acme-sla/versions/1/scorecard", None),
    ("admin", "POST", "/v1/agreements", None),
    ("admin", "POST", "/v1/agreements/acme-sla/versions/1/activate", None),
    ("admin", "POST", "/v1/agreements/acme-sla/versions/9/retire", None),
    ("admin", "PUT", "/v1/reps/rep-anna/availability", {"out_of_office_until": None}),
    ("admin", "PUT", "/v1/queues/smb/pause", {"paused": False}),
    ("admin", "POST", "/v1/leads/{lead}/reassign", {"rep_id": "rep-jonas"}),
]


async def _keys(uow: UnitOfWork, **specs: tuple[list[str], int | None]) -> dict[str, str]:
    """Store keys (name -> scopes, rate limit) as ``leadrouter keys create`` does; name -> key text."""
    made = {}
    async with uow.transaction() as conn:
        for name, (scopes, limit) in specs.items():
            key, row = make_key(name, scopes, limit, NOW)
            await key_repo.insert_key(conn, row)
            made[name] = key
    return made


def _settings(db_url: str, agreement: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=db_url, agreement_path=agreement, kafka_bootstrap_servers=None, run_clock_worker=False,
        **extra,
    )  # fmt: skip


async def _call(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None, key: str | None, lead: str
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = path.format(lead=lead)
    if url == "/v1/leads":
        body = lead_body(external_id=f"x-{uuid.uuid4()}")
    if url.startswith("/v1/agreements") and method == "POST" and not url.endswith(("activate", "retire")):
        text = (Path(__file__).resolve().parents[2] / "deploy/agreements/example.yaml").read_text(
            encoding="utf-8"
        )
        return await client.request(
            method, url, content=text, headers={**headers, "content-type": "application/yaml"}
        )
    return await client.request(method, url, json=body, headers=headers)


async def test_every_route_needs_its_scope_and_admin_may_do_everything(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    keys = await _keys(
        uow, ingest=(["ingest"], None), feedback=(["feedback"], None), read=(["read"], None),
        admin=(["admin"], None),
    )  # fmt: skip
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        seeded = await client.post(
            "/v1/leads", json=qualified_lead_body(), headers={"X-API-Key": keys["admin"]}
        )
        assert seeded.status_code == 201, seeded.text
        lead = seeded.json()["lead_id"]
        for scope, method, path, body in ROUTES:
            anonymous = await _call(client, method, path, body, None, lead)
            assert anonymous.status_code == 401, (path, anonymous.text)
            assert anonymous.json()["type"].endswith("/unauthenticated")
            for holder in ("ingest", "feedback", "read"):
                response = await _call(client, method, path, body, keys[holder], lead)
                if holder == scope:
                    assert response.status_code not in (401, 403), (path, holder, response.text)
                else:
                    assert response.status_code == 403, (path, holder, response.text)
                    problem = response.json()
                    assert problem["type"].endswith("/insufficient-scope")
                    assert f"'{scope}' scope" in problem["detail"]
            admin = await _call(client, method, path, body, keys["admin"], lead)
            assert admin.status_code not in (401, 403), (path, admin.text)
        assert (await client.get("/healthz")).status_code == 200  # probes need no key
        assert (await client.get("/metrics")).status_code == 200


async def test_wrong_and_revoked_keys_are_refused_and_new_keys_work_at_once(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    keys = await _keys(uow, crm=(["ingest", "read"], None))
    crm = keys["crm"]
    async with app_client(_settings(db_url, agreement_file)) as (client, app):
        ring = runtime_of(app).keys
        now = [1000.0]
        ring.clock = lambda: now[0]
        await ring.load()
        assert (await client.get("/v1/events", headers={"X-API-Key": crm})).status_code == 200
        tampered = crm[:-4] + ("AAAA" if not crm.endswith("AAAA") else "BBBB")
        for bad in (tampered, "lr_000000000000_" + "x" * 43, "not-a-key"):
            refused = await client.get("/v1/events", headers={"Authorization": f"Bearer {bad}"})
            assert refused.status_code == 401
            assert refused.json()["type"].endswith("/invalid-api-key")
            assert refused.headers["WWW-Authenticate"] == "Bearer"
        # a key made while the service runs works at once (an unknown id reloads the keys)
        now[0] += 2
        fresh = (await _keys(uow, later=(["read"], None)))["later"]
        assert (await client.get("/v1/events", headers={"X-API-Key": fresh})).status_code == 200
        # revoked: refused once the process reloads its keys (at most every 5 s)
        async with uow.transaction() as conn:
            assert await key_repo.revoke_key(conn, crm.split("_")[1], NOW)
        now[0] += 5
        revoked = await client.get("/v1/events", headers={"X-API-Key": crm})
        assert revoked.status_code == 401


async def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    keys = await _keys(uow, slow=(["read"], 2), other=(["read"], None))
    async with app_client(_settings(db_url, agreement_file)) as (client, app):
        ring = runtime_of(app).keys
        now = [1000.0]
        ring.clock = lambda: now[0]
        await ring.load()
        headers = {"X-API-Key": keys["slow"]}
        statuses = [(await client.get("/v1/events", headers=headers)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = await client.get("/v1/events", headers=headers)
        assert limited.headers["Retry-After"] == "30"  # 2 per minute: a token every 30 s
        assert limited.json()["type"].endswith("/rate-limited")
        assert (await client.get("/v1/events", headers={"X-API-Key": keys["other"]})).status_code == 200
        now[0] += 30
        assert (await client.get("/v1/events", headers=headers)).status_code == 200
        assert (await client.get("/v1/events", headers=headers)).status_code == 429


async def test_static_keys_from_settings_have_every_scope(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file, api_keys="k-one")) as (client, _):
        ok = await client.put(
            "/v1/queues/smb/pause", json={"paused": False}, headers={"Authorization": "Bearer k-one"}
        )
        assert ok.status_code == 200, ok.text


async def test_keys_never_reach_the_logs_or_error_bodies(
    db_url: str, agreement_file: Path, uow: UnitOfWork, capfd: pytest.CaptureFixture[str]
) -> None:
    keys = await _keys(uow, reader=(["read"], None))
    reader = keys["reader"]
    async with app_client(_settings(db_url, agreement_file, log_level="DEBUG")) as (client, _):
        responses = [
            await client.get("/v1/events", headers={"X-API-Key": reader}),
            await client.post("/v1/leads", json=lead_body(), headers={"X-API-Key": reader}),  # 403
            await client.get("/v1/events", headers={"Authorization": f"Bearer {reader}x"}),  # 401
        ]
    assert [r.status_code for r in responses] == [200, 403, 401]
    secret = reader.split("_", 2)[2]
    output = capfd.readouterr()
    assert secret not in output.out + output.err
    assert all(secret not in r.text for r in responses)
    assert reader.split("_")[1] in responses[1].json()["detail"]  # the public id names the key
