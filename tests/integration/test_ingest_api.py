"""The ingest API on real SQLite and PostgreSQL: create, update, idempotency, bad input, reads."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schemas.events import HandedOff, SlaClockEvent, StageChanged
from services.db.tables import decisions, lead_events, leads, outbox, sla_clocks
from services.db.uow import UnitOfWork
from services.settings import Settings
from tests.support.app import app_client, runtime_of
from tests.support.leads import lead_body, qualified_lead_body


def _settings(db_url: str, agreement: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=db_url,
        agreement_path=agreement,
        kafka_bootstrap_servers=None,
        run_clock_worker=False,
        **extra,
    )


async def _count(uow: UnitOfWork, table: sa.Table) -> int:
    async with uow.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def _counts(uow: UnitOfWork) -> dict[str, int]:
    return {t.name: await _count(uow, t) for t in (leads, lead_events, decisions, outbox, sla_clocks)}


async def test_create_then_update_the_same_lead(db_url: str, agreement_file: Path, uow: UnitOfWork) -> None:
    body = lead_body()
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        created = await client.post("/v1/leads", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["outcome"] == "created"
        updated = await client.post(
            "/v1/leads", json={**body, "title": "CTO", "email": body["email"].upper()}
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["outcome"] == "updated"
        assert updated.json()["lead_id"] == created.json()["lead_id"]
        detail = (await client.get(f"/v1/leads/{created.json()['lead_id']}")).json()
    assert detail["email"] == body["email"].lower()
    assert [entry["kind"] for entry in detail["timeline"]] == ["lead", "lead"]
    assert await _count(uow, leads) == 1


async def test_qualified_lead_is_handed_off_with_clock_and_explanation(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        lead = (await client.post("/v1/leads", json=lead_body())).json()
        assert lead["stage"] == "new"
        assert lead["owner"] is None
        demo = await client.post(f"/v1/leads/{lead['lead_id']}/activities", json={"type": "demo_request"})
        assert demo.status_code == 202, demo.text
        assert demo.json()["stage"] == "sql"
        assert demo.json()["queue"] == "enterprise-dach"
        assert demo.json()["owner"] in {"rep-anna", "rep-jonas"}
        detail = (await client.get(f"/v1/leads/{lead['lead_id']}")).json()
        feed = (await client.get("/v1/events")).json()
    assert feed["events"][0]["type"] == "com.leadrouter.agreement.activated"  # at start-up
    feed["events"] = feed["events"][1:]
    fired = {(rule["rule"], rule["kind"]): rule["points"] for rule in detail["explanation"]}
    assert fired[("icp-industry", "fit")] == 20
    assert fired[("demo-request", "engagement")] == 40
    assert ("stage.sql", "stage") in fired
    assert ("queue.enterprise-dach", "route") in fired
    # industry 20 + enterprise 25 + senior 15 + country 10 + revenue 10 + enterprise persona 5
    # + active in the last 14 days 3 (the demo request just now)
    assert detail["fit_score"] == 88
    assert fired[("recently-active", "fit")] == 3
    assert detail["engagement_score"] == 40
    assert detail["agreement_version"] == "acme-sla@1"
    # the handoff starts a clock per obligation of the agreement, all for the assigned rep
    assert [(c["obligation"], c["state"], c["rep_id"]) for c in detail["clocks"]] == [
        ("first_touch", "open", detail["owner"]), ("attempts", "open", detail["owner"]),
        ("decision", "open", detail["owner"]),
    ]  # fmt: skip
    assert [c["attempts_required"] for c in detail["clocks"]] == [None, 3, None]
    types = [event["type"] for event in feed["events"]]
    assert types == ["com.leadrouter.lead.stage_changed", "com.leadrouter.lead.handed_off"]
    handoff = feed["events"][1]
    assert StageChanged.model_validate(feed["events"][0]["data"]).to_stage == "sql"
    assert HandedOff.model_validate(handoff["data"]).queue == "enterprise-dach"
    assert handoff["specversion"] == "1.0"
    assert handoff["subject"] == lead["lead_id"]
    assert handoff["data"]["rep_id"] == detail["owner"]
    assert await _count(uow, sla_clocks) == 3  # first touch, attempts, decision


async def test_engagement_accumulates_with_decay_and_stages_only_move_forward(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    """Each activity weighs 0.5 ** (age / 30 days); the lead is re-evaluated on every event."""
    now = datetime.now(UTC)

    def webinar(days_ago: int, kind: str = "webinar_attended") -> dict[str, Any]:
        return {"type": kind, "occurred_at": (now - timedelta(days=days_ago)).isoformat()}

    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        lead = (await client.post("/v1/leads", json=lead_body())).json()
        url = f"/v1/leads/{lead['lead_id']}/activities"
        first = (await client.post(url, json=webinar(60))).json()  # 15 points x 0.25
        second = (await client.post(url, json=webinar(30))).json()  # 15 x (0.25 + 0.5)
        late = (await client.post(url, json=webinar(90, "page_view"))).json()  # 1 x 0.125, reported late
        detail = (await client.get(f"/v1/leads/{lead['lead_id']}")).json()
        feed = (await client.get("/v1/events")).json()
    assert [first["stage"], second["stage"], late["stage"]] == ["engaged", "mql", "mql"]
    assert detail["engagement_score"] == 11
    changes = [
        (e["data"]["from_stage"], e["data"]["to_stage"])
        for e in feed["events"]
        if e["type"] == "com.leadrouter.lead.stage_changed"
    ]
    assert changes == [("new", "engaged"), ("engaged", "mql")]
    async with uow.read() as conn:
        row = (await conn.execute(sa.select(leads).where(leads.c.id == uuid.UUID(lead["lead_id"])))).one()
        scores = (
            (await conn.execute(sa.select(decisions.c.engagement_score).order_by(decisions.c.id)))
            .scalars()
            .all()
        )
    assert row.engagement_weights["webinar_attended"] == pytest.approx(1.5)  # as of 30 days ago
    assert row.engagement_weights["page_view"] == pytest.approx(0.25)  # 90 days old, as of 30 days ago
    assert abs((row.engagement_as_of - (now - timedelta(days=30))).total_seconds()) < 1
    assert row.activity_counts == {"webinar_attended": 2, "page_view": 1}
    assert abs((row.last_activity_at - (now - timedelta(days=30))).total_seconds()) < 1
    assert list(scores) == [0, 4, 11, 11]


async def test_round_robin_rotates_within_the_queue(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        owners = []
        for _ in range(4):  # one at a time: the rotation order is observable
            reply = await client.post("/v1/leads", json=qualified_lead_body(country="BE"))
            owners.append(reply.json()["owner"])
        concurrent = await asyncio.gather(
            *(client.post("/v1/leads", json=qualified_lead_body(country="BE")) for _ in range(9))
        )
    assert owners == ["rep-maria", "rep-tom", "rep-yuki", "rep-maria"]
    later = [reply.json()["owner"] for reply in concurrent]
    assert sorted(later) == sorted(["rep-tom", "rep-yuki", "rep-maria"] * 3)


async def test_replayed_event_returns_first_response_and_changes_nothing(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    body = qualified_lead_body(event_id="evt-1")
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        first = await client.post("/v1/leads", json=body)
        before = await _counts(uow)
        again = await client.post("/v1/leads", json=body)
        header_key = {"Idempotency-Key": "retry-7"}
        activity = {"type": "page_view", "url": "https://example.com/pricing"}
        lead_id = first.json()["lead_id"]
        a1 = await client.post(f"/v1/leads/{lead_id}/activities", json=activity, headers=header_key)
        a2 = await client.post(f"/v1/leads/{lead_id}/activities", json=activity, headers=header_key)
        reused = await client.post(
            f"/v1/leads/{lead_id}/activities", json={"type": "webinar_attended"}, headers=header_key
        )
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert a1.json() == a2.json()
    assert reused.status_code == 409
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    after = await _counts(uow)
    assert after["leads"] == before["leads"] == 1
    assert after["outbox"] == before["outbox"]
    assert after["lead_events"] == before["lead_events"] + 1  # only the first page view


async def test_duplicates_inside_one_group_commit_are_applied_once(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    body = qualified_lead_body(event_id="same-event")
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        replies = await asyncio.gather(*(client.post("/v1/leads", json=body) for _ in range(20)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["lead_id"] for r in replies}) == 1
    assert len({r.json()["owner"] for r in replies}) == 1
    assert await _count(uow, leads) == 1
    assert await _count(uow, sla_clocks) == 3  # one handoff: its first touch, attempts, decision


@pytest.mark.parametrize(
    ("payload", "field", "status"),
    [
        ({"email": "not-an-email"}, "email", 422),
        ({"employees": "many"}, "employees", 422),
        ({"stage": "hot"}, "stage", 422),
        ({"country": "Germany"}, "country", 422),
        ({"unexpected": 1}, "unexpected", 422),
        ({"external_id": ""}, "external_id", 422),
        # valid ISO 8601, but before the first instant UTC can hold (it used to be a 500)
        ({"occurred_at": "0001-01-01T00:12:12+01:00"}, "occurred_at", 422),
        ({"occurred_at": "3000-01-01T00:00:00Z"}, "occurred_at", 422),
        # PostgreSQL cannot store a NUL: refused on both databases (it was a 503 there, stored on SQLite)
        ({"first_name": "a\u0000b"}, "first_name", 422),
        ({"attributes": {"plan": "pro\u0000"}}, "attributes.plan", 422),
    ],
)
async def test_bad_lead_fields_are_named_and_nothing_is_stored(
    db_url: str, agreement_file: Path, uow: UnitOfWork, payload: dict[str, Any], field: str, status: int
) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        before = await _counts(uow)  # the agreement's activation is in the outbox already
        reply = await client.post("/v1/leads", json=lead_body(**payload))
    assert reply.status_code == status
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["status"] == status
    assert problem["type"] == "https://leadrouter.dev/problems/validation-error"
    assert field in [error["field"] for error in problem["errors"]]
    assert await _counts(uow) == before
    assert before["leads"] == before["decisions"] == 0


async def test_malformed_oversized_and_wrong_media_type_are_rejected(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    async with app_client(_settings(db_url, agreement_file, max_body_bytes=2048)) as (client, _):
        malformed = await client.post(
            "/v1/leads", content=b'{"source": "x", ', headers={"content-type": "application/json"}
        )
        huge = await client.post(
            "/v1/leads", json=lead_body(attributes={"notes": "x" * 1900, "more": "y" * 500})
        )
        text = await client.post("/v1/leads", content=b"source=x", headers={"content-type": "text/plain"})
        latin1 = await client.post(
            "/v1/leads",
            content='{"source": "Müller"}'.encode("latin-1"),
            headers={"content-type": "application/json"},
        )
        missing = await client.post(
            "/v1/leads/6f1c0b53-0000-4000-8000-000000000000/activities", json={"type": "page_view"}
        )
        unknown_activity = await client.post(
            "/v1/leads/6f1c0b53-0000-4000-8000-000000000000/activities", json={"type": "telepathy"}
        )
        bad_id = await client.get("/v1/leads/not-a-uuid")
        bad_post_id = await client.post("/v1/leads/not-a-uuid/feedback", json={"outcome": "touched"})
    assert malformed.status_code == 400
    assert malformed.json()["type"].endswith("/malformed-json")
    assert malformed.json()["errors"][0]["field"] == "body"
    assert huge.status_code == 413
    assert text.status_code == 415
    assert latin1.status_code == 400  # JSON is UTF-8: refused before it reaches the writer
    assert latin1.json()["errors"] == [
        {"field": "body", "message": "not UTF-8", "code": "invalid_encoding", "line": None, "column": None}
    ]
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/lead-not-found")
    assert unknown_activity.status_code == 422
    assert unknown_activity.json()["errors"][0]["field"] == "type"
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "path.lead_id"
    assert bad_post_id.status_code == 422
    assert bad_post_id.headers["content-type"] == "application/problem+json"
    assert bad_post_id.json()["errors"][0]["field"] == "path.lead_id"
    assert await _count(uow, leads) == 0


async def test_rejection_without_reason_is_invalid(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        lead = (await client.post("/v1/leads", json=qualified_lead_body())).json()
        reply = await client.post(f"/v1/leads/{lead['lead_id']}/feedback", json={"outcome": "rejected"})
    assert reply.status_code == 422
    assert "reason is required" in reply.json()["errors"][0]["message"]


async def test_touch_before_the_deadline_meets_the_clock(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        lead = (await client.post("/v1/leads", json=qualified_lead_body())).json()
        touched = await client.post(
            f"/v1/leads/{lead['lead_id']}/feedback", json={"outcome": "touched", "rep_id": lead["owner"]}
        )
        assert touched.status_code == 202, touched.text
        detail = (await client.get(f"/v1/leads/{lead['lead_id']}")).json()
        feed = (await client.get("/v1/events")).json()
    assert detail["clocks"][0]["state"] == "met"
    assert feed["events"][-1]["type"] == "com.leadrouter.sla.met"
    assert SlaClockEvent.model_validate(feed["events"][-1]["data"]).obligation == "first_touch"


async def test_closing_a_lead_cancels_its_clocks(db_url: str, agreement_file: Path) -> None:
    """A disqualified lead left the queue: its first-touch clock is cancelled, so it never warns or
    breaches. (Converting it counts as the first touch: met.)"""
    async with app_client(_settings(db_url, agreement_file)) as (client, app):
        closed = {}
        for outcome in ("converted", "disqualified"):
            lead = (await client.post("/v1/leads", json=qualified_lead_body())).json()
            reply = await client.post(f"/v1/leads/{lead['lead_id']}/feedback", json={"outcome": outcome})
            assert reply.status_code == 202, reply.text
            closed[outcome] = lead["lead_id"]
        open_lead = (await client.post("/v1/leads", json=qualified_lead_body())).json()
        runtime = runtime_of(app)
        details = {k: (await client.get(f"/v1/leads/{v}")).json() for k, v in closed.items()}
        async with runtime.uow.read() as conn:
            states = dict((await conn.execute(sa.select(sla_clocks.c.lead_id, sla_clocks.c.state))).all())
    assert {k: d["clocks"][0]["state"] for k, d in details.items()} == {
        "converted": "met", "disqualified": "cancelled",
    }  # fmt: skip
    assert states[uuid.UUID(open_lead["lead_id"])] == "open"


async def test_event_feed_pages_with_a_cursor(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        for _ in range(3):
            await client.post("/v1/leads", json=qualified_lead_body())
        first = (await client.get("/v1/events", params={"limit": 4})).json()
        rest = (await client.get("/v1/events", params={"after": first["next_cursor"], "limit": 100})).json()
        empty = (await client.get("/v1/events", params={"after": rest["next_cursor"]})).json()
        bad = await client.get("/v1/events", params={"limit": 0})
        huge = await client.get("/v1/events", params={"after": 2**63})  # beyond a 64-bit id: no 500
    ids = [e["id"] for e in first["events"] + rest["events"]]
    assert len(first["events"]) == 4
    assert len(ids) == len(set(ids)) == 7  # the agreement's activation; stage change + handoff per lead
    assert empty == {"events": [], "next_cursor": rest["next_cursor"]}
    assert bad.status_code == 422
    assert huge.status_code == 422


async def test_api_keys_are_enforced_when_configured(db_url: str, agreement_file: Path) -> None:
    settings = _settings(db_url, agreement_file, api_keys="k-one,k-two")
    async with app_client(settings) as (client, _):
        anonymous = await client.post("/v1/leads", json=lead_body())
        wrong = await client.post("/v1/leads", json=lead_body(), headers={"Authorization": "Bearer nope"})
        bearer = await client.post("/v1/leads", json=lead_body(), headers={"Authorization": "Bearer k-two"})
        header = await client.get("/v1/events", headers={"X-API-Key": "k-one"})
        health = await client.get("/healthz")
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json()["type"].endswith("/invalid-api-key")
    assert bearer.status_code == 201
    assert header.status_code == 200
    assert health.status_code == 200


async def test_health_readiness_and_metrics(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, app):
        await client.post("/v1/leads", json=qualified_lead_body())
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        exposition = (await client.get("/metrics")).text
        assert runtime_of(app).relay is None
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kafka": "disabled"}
    assert 'leadrouter_ingest_events_total{kind="lead",outcome="created",source="hubspot"}' in exposition
    assert 'leadrouter_handoffs_total{queue="enterprise-dach"}' in exposition
    assert (
        'leadrouter_http_request_duration_seconds_count{method="POST",route="/v1/leads",status="2xx"}'
        in exposition
    )
    assert "leadrouter_group_commit_batch_size_bucket" in exposition
    # the SLA counters exist from start-up for every queue and every obligation of the agreement
    for obligation in ("first_touch", "attempts", "decision"):
        assert f'leadrouter_sla_breaches_total{{obligation="{obligation}",queue="smb"}}' in exposition


async def test_hostile_bodies_are_refused_by_shape_and_store_nothing(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    """Request limits beyond the byte size: nesting depth, list length, key count, string length."""
    head = '{"source": "x", "external_id": "1", "email": "a@b.co", '
    bodies = {
        "deep": head + '"attributes": {"k": ' + "[" * 5000 + "]" * 5000 + "}}",
        "wide": head + '"attributes": {"k": [' + ",".join(["1"] * 5000) + "]}}",
        "many keys": head + '"attributes": {' + ",".join(f'"k{i}": 1' for i in range(3000)) + "}}",
        "long string": head + '"company": "' + "x" * 5000 + '"}',
    }
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        answers = {
            name: await client.post(
                "/v1/leads", content=body.encode(), headers={"content-type": "application/json"}
            )
            for name, body in bodies.items()
        }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "deep": 400, "wide": 422, "many keys": 422, "long string": 422,
    }  # fmt: skip
    assert answers["long string"].json()["errors"][0]["field"] == "company"
    assert await _count(uow, leads) == 0
