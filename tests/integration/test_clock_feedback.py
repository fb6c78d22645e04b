"""What sales feedback does to a lead's SLA clocks, through the API on SQLite and PostgreSQL: pauses
deducted, contact attempts counted, the decision met, and the time to first touch (in time or late)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from schemas.events import SlaClockEvent
from tests.support.app import app_with_clock_workers
from tests.support.leads import qualified_lead_body

SLA = "com.leadrouter.sla."


async def _handoff(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    accepted = await client.post("/v1/leads", json=qualified_lead_body())
    assert accepted.status_code == 201, accepted.text
    lead_id = accepted.json()["lead_id"]
    return lead_id, await _clocks(client, lead_id)


async def _clocks(client: httpx.AsyncClient, lead_id: str) -> dict[str, Any]:
    """The lead's clocks by obligation (the latest of each)."""
    detail = (await client.get(f"/v1/leads/{lead_id}")).json()
    return {clock["obligation"]: clock for clock in detail["clocks"]}


async def _feedback(client: httpx.AsyncClient, lead_id: str, outcome: str, **extra: Any) -> None:
    """Feedback as a CRM sends it: each its own event (the same body without an id is a duplicate)."""
    body = {"outcome": outcome, "event_id": f"crm-{uuid.uuid4()}", **extra}
    response = await client.post(f"/v1/leads/{lead_id}/feedback", json=body)
    assert response.status_code == 202, response.text


async def _sla_events(client: httpx.AsyncClient, kind: str) -> list[SlaClockEvent]:
    feed = (await client.get("/v1/events", params={"limit": 1000})).json()["events"]
    return [SlaClockEvent.model_validate(e["data"]) for e in feed if e["type"] == SLA + kind]


def _touch_histogram(queue: str) -> tuple[float, float]:
    labels = {"queue": queue}
    count = REGISTRY.get_sample_value("leadrouter_sla_time_to_first_touch_seconds_count", labels) or 0.0
    total = REGISTRY.get_sample_value("leadrouter_sla_time_to_first_touch_seconds_sum", labels) or 0.0
    return count, total


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_paused_clock_does_not_breach_and_resumes_with_the_time_it_had_left(
    db_url: str, agreement_file: Path
) -> None:
    """The test agreement's first touch: 2 s of wall-clock time. Paused, it outlives its due time;
    resumed, it owes the time it had left; met, the pause is not counted as time used."""
    async with app_with_clock_workers(db_url, agreement_file) as (client, worker):
        lead_id, started = await _handoff(client)
        queue = started["first_touch"]["queue"]
        await _feedback(client, lead_id, "paused", note="waiting on the prospect's budget round")
        paused = await _clocks(client, lead_id)
        assert {c["state"] for c in paused.values()} == {"paused"}
        paused_at = _at(paused["first_touch"]["paused_at"])
        assert [e.obligation for e in await _sla_events(client, "paused")] == [
            "first_touch", "attempts", "decision",
        ]  # fmt: skip
        # long past its due time, the worker leaves a paused clock alone
        idle = worker(_at(started["first_touch"]["due_at"]) + timedelta(hours=1))
        assert (await idle.check_due(), await idle.escalate_pending()) == (0, 0)
        await _feedback(client, lead_id, "paused")  # pausing again changes nothing
        assert len(await _sla_events(client, "paused")) == 3

        await _feedback(client, lead_id, "resumed")
        (resumed_event, *_) = await _sla_events(client, "resumed")
        resumed_at = resumed_event.at
        resumed = await _clocks(client, lead_id)
        first_touch = resumed["first_touch"]
        assert (first_touch["state"], first_touch["paused_at"]) == ("open", None)
        left = _at(started["first_touch"]["due_at"]) - paused_at
        assert _at(first_touch["due_at"]) == resumed_at + left  # the 2 s it had, minus the time used
        assert resumed_event.due_at == _at(first_touch["due_at"])
        assert first_touch["paused_seconds"] == pytest.approx(
            (resumed_at - paused_at).total_seconds(), abs=1e-3
        )
        # the decision clock (P2D, warning at 75 %) keeps its unsent warning at the same share
        decision = resumed["decision"]
        assert _at(decision["warn_at"]) - resumed_at == _at(started["decision"]["warn_at"]) - paused_at

        touches_before = _touch_histogram(queue)
        await _feedback(client, lead_id, "touched")
        met = await _clocks(client, lead_id)
        assert met["first_touch"]["state"] == "met"
        (met_event,) = [e for e in await _sla_events(client, "met") if e.obligation == "first_touch"]
        wall = (met_event.at - _at(started["first_touch"]["started_at"])).total_seconds()
        assert met_event.paused_seconds == pytest.approx(first_touch["paused_seconds"], abs=1e-3)
        assert met_event.time_used_seconds == pytest.approx(wall - met_event.paused_seconds, abs=2e-3)
        count, total = _touch_histogram(queue)
        assert count == touches_before[0] + 1
        assert total - touches_before[1] == pytest.approx(met_event.time_used_seconds, abs=2e-3)


async def test_attempts_are_counted_until_the_agreement_s_number_and_a_decision_meets_its_clock(
    db_url: str, agreement_file: Path
) -> None:
    """The example agreement: 3 contact attempts within 5 days, accept or reject within 2 days."""
    async with app_with_clock_workers(db_url, agreement_file) as (client, _):
        lead_id, _started = await _handoff(client)
        await _feedback(client, lead_id, "touched")
        await _feedback(client, lead_id, "accepted")
        clocks = await _clocks(client, lead_id)
        assert clocks["decision"]["state"] == "met"
        assert (clocks["attempts"]["state"], clocks["attempts"]["attempts_made"]) == ("open", 1)
        await _feedback(client, lead_id, "touched")
        await _feedback(client, lead_id, "meeting_booked")  # a contact attempt that got through
        clocks = await _clocks(client, lead_id)
        assert (clocks["attempts"]["state"], clocks["attempts"]["attempts_made"]) == ("met", 3)
        attempts_met = [e for e in await _sla_events(client, "met") if e.obligation == "attempts"]
        assert [(e.attempts_made, e.attempts_required) for e in attempts_met] == [(3, 3)]
        # the first touch was met by the first touch only, once
        assert [e.obligation for e in await _sla_events(client, "met")] == [
            "first_touch",
            "decision",
            "attempts",
        ]


async def test_a_late_first_touch_is_timed_but_does_not_unbreach(db_url: str, agreement_file: Path) -> None:
    """A touch after the first-touch clock breached: the clock stays breached (no sla.met), and the
    time to first touch is observed once, late as it was."""
    async with app_with_clock_workers(db_url, agreement_file) as (client, worker):
        lead_id, started = await _handoff(client)
        queue = started["first_touch"]["queue"]
        late = worker(datetime.now(UTC) + timedelta(seconds=3))
        assert await late.check_due() == 1
        before = _touch_histogram(queue)
        await _feedback(client, lead_id, "touched")
        first_touch = [
            c
            for c in (await client.get(f"/v1/leads/{lead_id}")).json()["clocks"]
            if c["obligation"] == "first_touch"
        ]
        breached = next(c for c in first_touch if c["id"] == started["first_touch"]["id"])
        assert breached["state"] == "breached"
        assert breached["fulfilled_at"] is not None
        assert [e.obligation for e in await _sla_events(client, "met")] == []
        count, total = _touch_histogram(queue)
        assert count == before[0] + 1
        took = (_at(breached["fulfilled_at"]) - _at(breached["started_at"])).total_seconds()
        assert total - before[1] == pytest.approx(took, abs=2e-3)
        await _feedback(client, lead_id, "touched")  # the second touch is not a first touch
        assert _touch_histogram(queue)[0] == count
