"""Fair assignment through the API on real SQLite and PostgreSQL: weights, capacity, availability, hours."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from schemas.events import HandedOff, Recycled, Unassigned
from services.settings import Settings
from tests.support.app import app_client
from tests.support.leads import qualified_lead_body

GLOBAL = "enterprise-global"  # where qualified leads from Belgium go


def _settings(db_url: str, agreement: Path) -> Settings:
    return Settings(database_url=db_url, agreement_path=agreement, run_clock_worker=False)


def _with_global_queue(agreement_file: Path, strategy: str, reps: list[dict[str, Any]], **extra: Any) -> Path:
    """The test agreement with the enterprise-global queue replaced (and extra top-level sections)."""
    document = yaml.safe_load(agreement_file.read_text(encoding="utf-8"))
    queue = next(q for q in document["queues"] if q["id"] == GLOBAL)
    queue.update(strategy=strategy, reps=reps)
    document.update(extra)
    agreement_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return agreement_file


def _rep(rep_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": rep_id, "name": rep_id.title(), **fields}


async def _lead(client: httpx.AsyncClient) -> dict[str, Any]:
    reply = await client.post("/v1/leads", json=qualified_lead_body(country="BE"))
    assert reply.status_code == 201, reply.text
    body: dict[str, Any] = reply.json()
    assert body["queue"] == GLOBAL
    return body


async def test_weighted_shares_hold_under_concurrent_ingest(db_url: str, agreement_file: Path) -> None:
    reps = [_rep("rep-a"), _rep("rep-b"), _rep("rep-c", weight=2), _rep("rep-d", weight=4)]
    path = _with_global_queue(agreement_file, "weighted_round_robin", reps)
    async with app_client(_settings(db_url, path)) as (client, _):
        leads = []
        for _ in range(4):  # 4 x 40 leads at once: many batches, each assigning several
            leads += await asyncio.gather(*(_lead(client) for _ in range(40)))
        owners = Counter(lead["owner"] for lead in leads)
        listed = {r["rep_id"]: r for r in (await client.get("/v1/reps")).json()["reps"]}
    assert owners == {"rep-a": 20, "rep-b": 20, "rep-c": 40, "rep-d": 80}
    assert {rep: listed[rep]["open_leads"] for rep in owners} == dict(owners)
    assert listed["rep-d"]["queues"] == [GLOBAL]


async def test_capacity_makes_a_lead_wait_and_closing_frees_it(db_url: str, agreement_file: Path) -> None:
    """The second lead waits unassigned; once the first is converted, the worker assigns it."""
    path = _with_global_queue(agreement_file, "round_robin", [_rep("rep-solo", max_open_leads=1)])
    settings = _settings(db_url, path).model_copy(update={"assignment_poll_seconds": 0.1})
    async with app_client(settings) as (client, _):
        first = await _lead(client)
        waiting = await _lead(client)
        detail = (await client.get(f"/v1/leads/{waiting['lead_id']}")).json()
        await asyncio.sleep(0.3)  # the worker looks, finds nobody eligible, and leaves the lead waiting
        still = (await client.get(f"/v1/leads/{waiting['lead_id']}")).json()
        converted = await client.post(f"/v1/leads/{first['lead_id']}/feedback", json={"outcome": "converted"})
        again = await client.post(f"/v1/leads/{first['lead_id']}/feedback", json={"outcome": "converted"})
        assigned = await _until_owner(client, waiting["lead_id"])
        (solo,) = [r for r in (await client.get("/v1/reps")).json()["reps"] if r["rep_id"] == "rep-solo"]
        feed = (await client.get("/v1/events")).json()["events"]
    assert first["owner"] == "rep-solo"
    assert waiting["owner"] is None
    assert detail["queue"] == GLOBAL
    skipped = [e for e in detail["explanation"] if e["kind"] == "assign"]
    assert skipped[0] == {
        "rule": "skipped.rep-solo", "kind": "assign", "points": 0, "detail": "at capacity (1 of 1 open leads)"
    }  # fmt: skip
    assert skipped[-1]["rule"] == "unassigned"
    assert detail["clocks"][0]["rep_id"] is None  # the first-touch clock runs for the queue meanwhile
    assert still["owner"] is None
    assert converted.status_code == again.status_code == 202
    assert assigned["owner"] == "rep-solo"
    assert assigned["clocks"][0]["rep_id"] == "rep-solo"
    assert solo["open_leads"] == 1  # the first released once (converted twice), the second assigned
    (event,) = [e for e in feed if e["type"] == "com.leadrouter.lead.unassigned"]
    assert Unassigned.model_validate(event["data"]).skipped[0].rep_id == "rep-solo"
    handed = [e["data"] for e in feed if e["type"] == "com.leadrouter.lead.handed_off"]
    assert [(h["lead_id"], h["rep_id"]) for h in handed] == [
        (first["lead_id"], "rep-solo"), (waiting["lead_id"], "rep-solo"),
    ]  # fmt: skip
    assert HandedOff.model_validate(handed[1]).first_touch_due_at == datetime.fromisoformat(
        assigned["clocks"][0]["due_at"]
    )


async def _until_owner(client: httpx.AsyncClient, lead_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        detail: dict[str, Any] = (await client.get(f"/v1/leads/{lead_id}")).json()
        if detail["owner"] is not None or asyncio.get_running_loop().time() > deadline:
            return detail
        await asyncio.sleep(0.05)


async def test_out_of_office_reps_are_skipped_until_back(db_url: str, agreement_file: Path) -> None:
    path = _with_global_queue(agreement_file, "round_robin", [_rep("rep-a"), _rep("rep-b")])
    async with app_client(_settings(db_url, path)) as (client, _):
        until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        away = await client.put(
            "/v1/reps/rep-a/availability", json={"out_of_office_until": until, "reason": "holiday"}
        )
        assert away.status_code == 200, away.text
        assert away.json()["out_of_office_reason"] == "holiday"
        while_away = [(await _lead(client))["owner"] for _ in range(3)]
        back = await client.put("/v1/reps/rep-a/availability", json={"out_of_office_until": None})
        assert back.status_code == 200
        after = [(await _lead(client))["owner"] for _ in range(2)]
        unknown = await client.put("/v1/reps/nobody/availability", json={"out_of_office_until": None})
        naive = await client.put(
            "/v1/reps/rep-a/availability", json={"out_of_office_until": "2030-01-01T00:00:00"}
        )
        # the fuzzer's find: a time whose UTC form would fall in year 0 (it was a 500)
        ancient = await client.put(
            "/v1/reps/rep-a/availability", json={"out_of_office_until": "0001-01-01T00:12:12+01:00"}
        )
        nul_reason = await client.put(
            "/v1/reps/rep-a/availability", json={"out_of_office_until": None, "reason": "sick\u0000"}
        )
    assert while_away == ["rep-b"] * 3
    assert sorted(after) == ["rep-a", "rep-b"]  # alternating again, no catch-up burst for rep-a
    assert unknown.status_code == 404
    assert naive.status_code == 422
    assert ancient.status_code == 422
    assert [e["field"] for e in ancient.json()["errors"]] == ["body.out_of_office_until"]
    assert nul_reason.status_code == 422
    assert [e["field"] for e in nul_reason.json()["errors"]] == ["body.reason"]


async def test_working_hours_and_daily_limits(db_url: str, agreement_file: Path) -> None:
    today = datetime.now(UTC).date()
    closed_today = {
        "id": "closed-today", "timezone": "UTC",
        "hours": {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "closures": [today - timedelta(days=1), today, today + timedelta(days=1)],  # whatever UTC day it is
    }  # fmt: skip
    reps = [_rep("rep-off", calendar="closed-today"), _rep("rep-daily", max_new_per_day=2)]
    path = _with_global_queue(agreement_file, "round_robin", reps, calendars=[closed_today])
    async with app_client(_settings(db_url, path)) as (client, _):
        owners = [(await _lead(client))["owner"] for _ in range(3)]
        detail = (await client.get(f"/v1/leads/{(await _lead(client))['lead_id']}")).json()
    assert owners == ["rep-daily", "rep-daily", None]
    reasons = {e["rule"]: e["detail"] for e in detail["explanation"] if e["kind"] == "assign"}
    assert reasons["skipped.rep-off"] == "outside working hours"
    assert reasons["skipped.rep-daily"] == "daily limit reached (2 of 2 new leads today)"


async def test_least_loaded_prefers_the_rep_with_fewest_open_leads(db_url: str, agreement_file: Path) -> None:
    path = _with_global_queue(agreement_file, "least_loaded", [_rep("rep-a"), _rep("rep-b")])
    async with app_client(_settings(db_url, path)) as (client, _):
        first = [await _lead(client) for _ in range(4)]  # a, b, a, b
        for lead in first:
            if lead["owner"] == "rep-a":
                await client.post(f"/v1/leads/{lead['lead_id']}/feedback", json={"outcome": "disqualified"})
        later = [(await _lead(client))["owner"] for _ in range(3)]
    assert [lead["owner"] for lead in first] == ["rep-a", "rep-b", "rep-a", "rep-b"]
    assert later == ["rep-a", "rep-a", "rep-b"]  # a had 0 open, b had 2: a catches up first


async def test_rejection_recycles_the_lead_to_marketing(db_url: str, agreement_file: Path) -> None:
    """A rejected lead leaves its queue and owner, its clock is cancelled, and it can qualify again."""
    path = _with_global_queue(agreement_file, "round_robin", [_rep("rep-a", max_open_leads=5)])
    async with app_client(_settings(db_url, path)) as (client, _):
        lead = await _lead(client)
        url = f"/v1/leads/{lead['lead_id']}"
        bad_reason = await client.post(f"{url}/feedback", json={"outcome": "rejected", "reason": "meh"})
        rejected = await client.post(
            f"{url}/feedback", json={"outcome": "rejected", "reason": "bad_timing", "note": "budget in Q3"}
        )
        recycled = (await client.get(url)).json()
        (rep,) = [r for r in (await client.get("/v1/reps")).json()["reps"] if r["rep_id"] == "rep-a"]
        # Back with marketing: new engagement qualifies it again and it is routed again.
        demo = await client.post(f"{url}/activities", json={"type": "demo_request"})
        again = await client.post(f"{url}/feedback", json={"outcome": "rejected", "reason": "no_budget"})
        twice = (await client.get(url)).json()
        feed = (await client.get("/v1/events")).json()["events"]
    assert bad_reason.status_code == 422
    assert bad_reason.json()["errors"][0]["field"] == "reason"
    assert "bad_timing" in bad_reason.json()["errors"][0]["message"]
    assert rejected.status_code == 202, rejected.text
    assert (recycled["stage"], recycled["queue"], recycled["owner"]) == ("recycled", None, None)
    assert recycled["engagement_score"] == 0
    assert recycled["recycled_count"] == 1
    # rejecting is sales' decision (met); the lead left the queue: its other clocks are cancelled
    assert [c["state"] for c in recycled["clocks"]] == ["cancelled", "cancelled", "met"]
    assert recycled["explanation"] == [
        {"rule": "feedback.rejected", "kind": "recycle", "points": 0, "detail": "bad_timing"}
    ]
    assert rep["open_leads"] == 0
    assert demo.json()["stage"] == "sql"
    assert demo.json()["owner"] == "rep-a"
    assert again.status_code == 202
    assert twice["recycled_count"] == 2
    recycles = [e["data"] for e in feed if e["type"] == "com.leadrouter.lead.recycled"]
    assert [(r["reason"], r["rep_id"], r["recycled_count"]) for r in recycles] == [
        ("bad_timing", "rep-a", 1), ("no_budget", "rep-a", 2),
    ]  # fmt: skip
    assert Recycled.model_validate(recycles[0]).note == "budget in Q3"
    changes = [
        (e["data"]["from_stage"], e["data"]["to_stage"]) for e in feed if e["type"].endswith("stage_changed")
    ]
    assert changes == [("new", "mql"), ("mql", "recycled"), ("recycled", "sql"), ("sql", "recycled")]


async def test_one_person_is_one_lead_across_sources(db_url: str, agreement_file: Path) -> None:
    """The same (normalised) e-mail from another CRM updates the lead; it is not routed twice."""
    path = _with_global_queue(agreement_file, "round_robin", [_rep("rep-a"), _rep("rep-b")])
    async with app_client(_settings(db_url, path)) as (client, _):
        first = await _lead(client)
        body = qualified_lead_body(country="BE", source="salesforce", external_id="003-XYZ")
        body["email"] = (await client.get(f"/v1/leads/{first['lead_id']}")).json()["email"].upper()
        second = await client.post("/v1/leads", json=body)
        feed = (await client.get("/v1/events")).json()["events"]
    assert second.status_code == 200, second.text
    assert second.json()["outcome"] == "updated"
    assert second.json()["lead_id"] == first["lead_id"]
    assert second.json()["owner"] == first["owner"]
    handed = [e for e in feed if e["type"] == "com.leadrouter.lead.handed_off"]
    assert len(handed) == 1


async def test_sticky_accounts_go_to_the_account_owner(db_url: str, agreement_file: Path) -> None:
    document = yaml.safe_load(agreement_file.read_text(encoding="utf-8"))
    queue = next(q for q in document["queues"] if q["id"] == GLOBAL)
    queue["sticky_accounts"] = True
    agreement_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    path = _with_global_queue(agreement_file, "round_robin", [_rep("rep-a"), _rep("rep-b")])

    async def from_domain(domain: str) -> dict[str, Any]:
        reply = await client.post(
            "/v1/leads",
            json={**qualified_lead_body(country="BE"), "email": f"x{uuid.uuid4().hex[:6]}@{domain}"},
        )
        assert reply.status_code == 201, reply.text
        return dict(reply.json())

    async with app_client(_settings(db_url, path)) as (client, _):
        acme = [await from_domain("acme.example") for _ in range(3)]
        other = await from_domain("globex.example")
        away = {"out_of_office_until": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
        await client.put(f"/v1/reps/{acme[0]['owner']}/availability", json=away)
        while_away = await from_domain("acme.example")
        detail = (await client.get(f"/v1/leads/{acme[1]['lead_id']}")).json()
    assert {lead["owner"] for lead in acme} == {acme[0]["owner"]}
    assert other["owner"] != acme[0]["owner"]  # the rotation was not moved by the sticky leads
    assert while_away["owner"] == other["owner"]
    assert {
        "rule": f"rep.{acme[0]['owner']}",
        "kind": "assign",
        "points": 0,
        "detail": "sticky account owner",
    } in detail["explanation"]


async def test_a_paused_queue_holds_its_leads_until_resumed(db_url: str, agreement_file: Path) -> None:
    path = _with_global_queue(agreement_file, "round_robin", [_rep("rep-a")])
    settings = _settings(db_url, path).model_copy(update={"assignment_poll_seconds": 0.1})
    async with app_client(settings) as (client, _):
        paused = await client.put(
            f"/v1/queues/{GLOBAL}/pause", json={"paused": True, "reason": "team offsite"}
        )
        waiting = await _lead(client)
        detail = (await client.get(f"/v1/leads/{waiting['lead_id']}")).json()
        queues = {q["id"]: q for q in (await client.get("/v1/queues")).json()["queues"]}
        resumed = await client.put(f"/v1/queues/{GLOBAL}/pause", json={"paused": False})
        assigned = await _until_owner(client, waiting["lead_id"])
        missing = await client.put("/v1/queues/nowhere/pause", json={"paused": True})
    assert paused.status_code == 200, paused.text
    assert (queues[GLOBAL]["paused"], queues[GLOBAL]["paused_reason"]) == (True, "team offsite")
    assert waiting["owner"] is None
    assert {"rule": "skipped.rep-a", "kind": "assign", "points": 0, "detail": "queue paused"} in detail[
        "explanation"
    ]
    assert resumed.json() == {**queues[GLOBAL], "paused": False, "paused_reason": None}
    assert assigned["owner"] == "rep-a"
    assert missing.status_code == 404


async def test_reassigning_moves_the_lead_its_clock_and_the_load(db_url: str, agreement_file: Path) -> None:
    path = _with_global_queue(agreement_file, "round_robin", [_rep("rep-a"), _rep("rep-b")])
    async with app_client(_settings(db_url, path)) as (client, _):
        lead = await _lead(client)  # rep-a
        url = f"/v1/leads/{lead['lead_id']}/reassign"
        moved = await client.post(url, json={"rep_id": "rep-b", "reason": "speaks Dutch"})
        outsider = await client.post(url, json={"rep_id": "rep-maria"})
        unknown = await client.post(f"/v1/leads/{uuid.uuid4()}/reassign", json={"rep_id": "rep-b"})
        loads = {r["rep_id"]: r["open_leads"] for r in (await client.get("/v1/reps")).json()["reps"]}
        feed = (await client.get("/v1/events")).json()["events"]
        await client.post(
            f"/v1/leads/{lead['lead_id']}/feedback", json={"outcome": "rejected", "reason": "no_need"}
        )
        recycled = await client.post(url, json={"rep_id": "rep-a"})
    assert lead["owner"] == "rep-a"
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner"] == "rep-b"
    assert moved.json()["clocks"][0]["rep_id"] == "rep-b"
    assert moved.json()["explanation"] == [
        {
            "rule": "rep.rep-b",
            "kind": "assign",
            "points": 0,
            "detail": "reassigned by hand from rep-a: speaks Dutch",
        }
    ]
    assert (loads["rep-a"], loads["rep-b"]) == (0, 1)
    handed = [e["data"]["rep_id"] for e in feed if e["type"] == "com.leadrouter.lead.handed_off"]
    assert handed == ["rep-a", "rep-b"]
    assert outsider.status_code == 422
    assert outsider.json()["type"].endswith("/rep-not-in-queue")
    assert unknown.status_code == 404
    assert recycled.status_code == 409
