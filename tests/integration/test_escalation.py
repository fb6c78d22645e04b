"""Escalation on SLA breaches: reassignment with a new clock, notification, fallback queue, chains and
marking a rep unavailable, run by the clock worker on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import REGISTRY

from tests.support.app import app_with_clock_workers
from tests.support.leads import qualified_lead_body

ESCALATED = "com.leadrouter.sla.escalated"
HANDED_OFF = "com.leadrouter.lead.handed_off"


async def _events(client: httpx.AsyncClient, event_type: str) -> list[dict[str, Any]]:
    feed = (await client.get("/v1/events", params={"limit": 1000})).json()["events"]
    return [event["data"] for event in feed if event["type"] == event_type]


async def _lead(client: httpx.AsyncClient, lead_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/leads/{lead_id}")
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


def _first_touch_clocks(lead: dict[str, Any]) -> list[dict[str, Any]]:
    return [clock for clock in lead["clocks"] if clock["obligation"] == "first_touch"]


def _escalations(queue: str, action: str) -> float:
    value = REGISTRY.get_sample_value(
        "leadrouter_sla_escalations_total", {"queue": queue, "obligation": "first_touch", "action": action}
    )
    return value or 0.0


async def test_a_breach_reassigns_to_the_next_rep_and_a_second_breach_moves_to_the_fallback_queue(
    db_url: str, agreement_file: Path
) -> None:
    """The example agreement: 1st breach -> next rep + notify sales_manager; 2nd -> inside-sales +
    remediation. Each step gives the new owner a new first-touch clock and a handoff event."""
    async with app_with_clock_workers(db_url, agreement_file) as (client, worker):
        accepted = await client.post("/v1/leads", json=qualified_lead_body())
        assert accepted.status_code == 201, accepted.text
        lead_id, first_rep = accepted.json()["lead_id"], accepted.json()["owner"]
        assert accepted.json()["queue"] == "enterprise-dach"
        other = {"rep-anna": "rep-jonas", "rep-jonas": "rep-anna"}[first_rep]
        reassigned_before = _escalations("enterprise-dach", "reassign")
        started = datetime.now(UTC)

        first = worker(started + timedelta(seconds=3))
        assert await first.check_due() == 1  # the 2 s deadline lapsed: breached, escalation pending
        assert (await _lead(client, lead_id))["owner"] == first_rep
        assert await _events(client, ESCALATED) == []
        await first.count_open()
        assert REGISTRY.get_sample_value("leadrouter_sla_escalations_pending") == 1
        assert await first.escalate_pending() == 1
        assert await first.escalate_pending() == 0  # once
        await first.count_open()
        assert REGISTRY.get_sample_value("leadrouter_sla_escalations_pending") == 0
        lead = await _lead(client, lead_id)
        assert (lead["queue"], lead["owner"]) == ("enterprise-dach", other)
        breached, reopened = _first_touch_clocks(lead)
        # the lead's other clocks (attempts, decision) follow it to the new owner, still running
        others = [c for c in lead["clocks"] if c["obligation"] != "first_touch"]
        assert [(c["obligation"], c["state"], c["rep_id"]) for c in others] == [
            ("attempts", "open", other), ("decision", "open", other),
        ]  # fmt: skip
        assert (breached["state"], breached["rep_id"]) == ("breached", first_rep)
        assert (reopened["state"], reopened["rep_id"], reopened["obligation"]) == (
            "open",
            other,
            "first_touch",
        )
        assert datetime.fromisoformat(reopened["due_at"]) - datetime.fromisoformat(
            reopened["started_at"]
        ) == timedelta(seconds=2)
        (escalated,) = await _events(client, ESCALATED)
        assert escalated["breaches"] == 1
        assert escalated["rep_id"] == first_rep
        assert escalated["clock_id"] == breached["id"]
        assert escalated["actions"] == [
            {"action": "reassign", "queue": "enterprise-dach", "from_rep_id": first_rep, "rep_id": other},
            {"action": "notify", "role": "sales_manager"},
        ]
        handoffs = await _events(client, HANDED_OFF)
        assert [h["rep_id"] for h in handoffs] == [first_rep, other]
        assert datetime.fromisoformat(handoffs[-1]["first_touch_due_at"]) == datetime.fromisoformat(
            reopened["due_at"]
        )
        assert lead["explanation"][0]["kind"] == "escalate"
        assert _escalations("enterprise-dach", "reassign") == reassigned_before + 1

        # the second miss of the same lead: to the fallback queue, with the remediation
        second_worker = worker(started + timedelta(seconds=8))
        assert await second_worker.check_due() == 1
        assert await second_worker.escalate_pending() == 1
        lead = await _lead(client, lead_id)
        assert lead["queue"] == "inside-sales"
        assert lead["owner"] in {"rep-lena", "rep-omar"}
        assert [c["state"] for c in _first_touch_clocks(lead)] == ["breached", "breached", "open"]
        assert _first_touch_clocks(lead)[-1]["rep_id"] == lead["owner"]
        # it left enterprise-dach: its clocks there are cancelled, inside-sales' start as at a handoff
        others = [
            (c["obligation"], c["queue"], c["state"])
            for c in lead["clocks"]
            if c["obligation"] != "first_touch"
        ]
        assert sorted(others) == [
            ("attempts", "enterprise-dach", "cancelled"), ("attempts", "inside-sales", "open"),
            ("decision", "enterprise-dach", "cancelled"), ("decision", "inside-sales", "open"),
        ]  # fmt: skip
        second = (await _events(client, ESCALATED))[-1]
        assert second["breaches"] == 2
        assert second["rep_id"] == other
        assert [a["action"] for a in second["actions"]] == ["move_to_queue", "remediation"]
        assert second["actions"][0] == {
            "action": "move_to_queue", "queue": "inside-sales", "from_rep_id": other, "rep_id": lead["owner"],
        }  # fmt: skip

        # the new owner touches the lead in time: the new clock is met, nothing more happens
        touched = await client.post(f"/v1/leads/{lead_id}/feedback", json={"outcome": "touched"})
        assert touched.status_code == 202, touched.text
        assert _first_touch_clocks(await _lead(client, lead_id))[-1]["state"] == "met"
        last = worker(started + timedelta(seconds=60))
        assert (await last.check_due(), await last.escalate_pending()) == (0, 0)
        assert len(await _events(client, ESCALATED)) == 2


async def test_an_escalation_can_mark_the_rep_unavailable(db_url: str, agreement_file: Path) -> None:
    text = agreement_file.read_text(encoding="utf-8")
    agreement_file.write_text(
        text.replace(
            "      - reassign: next_rep\n", "      - mark_rep_unavailable: true\n      - reassign: next_rep\n"
        ),
        encoding="utf-8",
    )
    async with app_with_clock_workers(db_url, agreement_file) as (client, worker):
        accepted = (await client.post("/v1/leads", json=qualified_lead_body())).json()
        missed_by = accepted["owner"]
        late = worker(datetime.now(UTC) + timedelta(seconds=3))
        assert (await late.check_due(), await late.escalate_pending()) == (1, 1)
        reps = {rep["rep_id"]: rep for rep in (await client.get("/v1/reps")).json()["reps"]}
        assert reps[missed_by]["out_of_office_until"].startswith("9999-12-31")
        assert "missed first_touch" in reps[missed_by]["out_of_office_reason"]
        (escalated,) = await _events(client, ESCALATED)
        assert escalated["actions"][0] == {"action": "mark_rep_unavailable", "rep_id": missed_by}
        # no new lead goes to that rep until someone sets it available again
        owners = {
            (await client.post("/v1/leads", json=qualified_lead_body())).json()["owner"] for _ in range(3)
        }
        assert missed_by not in owners
        back = await client.put(f"/v1/reps/{missed_by}/availability", json={"out_of_office_until": None})
        assert back.status_code == 200, back.text
        owners = {
            (await client.post("/v1/leads", json=qualified_lead_body())).json()["owner"] for _ in range(2)
        }
        assert missed_by in owners


async def test_reassignment_finds_nobody_else_and_the_lead_stays(db_url: str, agreement_file: Path) -> None:
    """A queue of one rep: the reassignment is skipped (said so in the event), the notification goes out."""
    async with app_with_clock_workers(db_url, agreement_file) as (client, worker):
        accepted = (await client.post("/v1/leads", json=qualified_lead_body(lead_source="partner"))).json()
        assert (accepted["queue"], accepted["owner"]) == ("partner", "rep-ravi")
        late = worker(datetime.now(UTC) + timedelta(seconds=3))
        assert (await late.check_due(), await late.escalate_pending()) == (1, 1)
        (escalated,) = await _events(client, ESCALATED)
        assert escalated["actions"] == [
            {"action": "reassign", "rep_id": None, "skipped": "no other rep of the queue is eligible"},
            {"action": "notify", "role": "sales_manager"},
        ]
        lead = await _lead(client, accepted["lead_id"])
        assert lead["owner"] == "rep-ravi"
        assert [c["state"] for c in _first_touch_clocks(lead)] == ["breached"]
