"""Personal data never reaches the logs: the service logs lead ids, never e-mails, names or phones,
whatever happens to the lead (handoff, bad input, feedback, breach and escalation), at DEBUG level,
in the API process and in its writer process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.app import app_with_clock_workers
from tests.support.leads import lead_body, qualified_lead_body

PERSONAL = {
    "email": "grace.hopper.private@example-navy.org",
    "first_name": "Gracelynn",
    "last_name": "Hopperstone",
    "phone": "+49 30 5550199",
}


async def test_no_personal_data_in_any_log_line(
    db_url: str, agreement_file: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADROUTER_LOG_LEVEL", "DEBUG")
    async with app_with_clock_workers(db_url, agreement_file) as (client, worker):
        accepted = await client.post("/v1/leads", json=qualified_lead_body(**PERSONAL))
        assert accepted.status_code == 201, accepted.text
        lead_id = accepted.json()["lead_id"]
        bad = await client.post(
            "/v1/leads", json=lead_body(**{**PERSONAL, "email": "grace.hopper.private@@example-navy.org"})
        )
        assert bad.status_code == 422
        await client.post(f"/v1/leads/{lead_id}/activities", json={"type": "demo_request"})
        late = worker(datetime.now(UTC) + timedelta(seconds=3))
        assert await late.check_due() == 1  # breached, and escalated: the lead goes to another rep
        assert await late.escalate_pending() == 1
        await client.post(
            f"/v1/leads/{lead_id}/feedback",
            json={"outcome": "rejected", "reason": "no_budget", "event_id": "r1"},
        )
    output = capfd.readouterr()
    logged = output.out + output.err
    assert '"event": "clocks.escalated"' in logged  # the run was logged (at DEBUG)
    for field, value in PERSONAL.items():
        assert value not in logged, field
        assert value.lower() not in logged.lower(), field
