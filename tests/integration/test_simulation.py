"""What-if replay on SQLite and PostgreSQL: a stricter MQL definition provably moves the one lead it
should, against what really happened, and nothing is written."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.clock import utcnow
from services.db.tables import decisions, lead_events, leads, outbox
from services.settings import Settings
from tests.conftest import EXAMPLE_AGREEMENT
from tests.support.app import app_client, runtime_of
from tests.support.leads import lead_body
from tests.support.service import run_cli

ACTUAL_MQL = "mql: fit_score >= 40 and engagement_score >= 10"
ACTUAL_SQL = "sql: fit_score >= 40 and activity.demo_request >= 1"
STRICT = (
    EXAMPLE_AGREEMENT.read_text(encoding="utf-8")
    .replace("version: 1\n", "version: 2\n", 1)
    .replace(ACTUAL_MQL, f"{ACTUAL_MQL} and employees >= 1000")
    .replace(ACTUAL_SQL, f"{ACTUAL_SQL} and employees >= 1000")
)
YAML = {"content-type": "application/yaml"}


def _settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url, agreement_path=EXAMPLE_AGREEMENT, kafka_bootstrap_servers=None,
        run_clock_worker=False, run_assignment_worker=False, review_worker_seconds=0,
    )  # fmt: skip


async def _counts(app: Any) -> list[int]:
    async with runtime_of(app).uow.read() as conn:
        return [
            int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in (leads, lead_events, decisions, outbox)
        ]


async def test_a_stricter_mql_definition_moves_the_mid_market_lead(db_url: str, tmp_path: Path) -> None:
    assert STRICT.count("employees >= 1000\n") >= 2  # both definitions were made stricter
    hour = timedelta(hours=1)
    window = {"from": (utcnow() - hour).isoformat(), "to": (utcnow() + hour).isoformat()}
    async with app_client(_settings(db_url)) as (client, app):
        created = {}
        for name, employees in (("enterprise", 2500), ("mid-market", 300)):
            reply = await client.post("/v1/leads", json=lead_body(employees=employees))
            lead_id = reply.json()["lead_id"]
            demo = await client.post(f"/v1/leads/{lead_id}/activities", json={"type": "demo_request"})
            assert demo.json()["stage"] == "sql", demo.text  # both are SQLs under the agreement in force
            created[name] = demo.json()
        before = await _counts(app)
        reply = await client.post(
            "/v1/agreements/acme-sla/simulate", params=window, content=STRICT, headers=YAML
        )
        assert reply.status_code == 200, reply.text
        assert await _counts(app) == before  # nothing written
        other = STRICT.replace("id: acme-sla", "id: other-sla", 1)
        mismatch = await client.post("/v1/agreements/acme-sla/simulate", content=other, headers=YAML)
        assert mismatch.status_code == 422
        assert mismatch.json()["type"].endswith("/agreement-mismatch")
        typo = STRICT.replace("fit_score >= 40 and", "fit_score >>", 1)
        broken = await client.post("/v1/agreements/acme-sla/simulate", content=typo, headers=YAML)
        assert broken.status_code == 422
        assert broken.json()["errors"][0]["line"] > 1
    result = reply.json()
    assert result["candidate_version"] == "acme-sla@2"
    assert (result["leads_replayed"], result["events_replayed"]) == (2, 4)
    assert result["mqls"] == {"actual": 2, "candidate": 1}
    assert result["sqls"] == {"actual": 2, "candidate": 1}
    mid = created["mid-market"]
    queues = {q["queue"]: (q["actual"], q["candidate"]) for q in result["handoffs_by_queue"]}
    if mid["queue"] == created["enterprise"]["queue"]:
        assert queues[mid["queue"]] == (2, 1)
    else:
        assert queues[mid["queue"]] == (1, 0)
    assert (result["stage_changed"], result["queue_changed"]) == (1, 1)
    (example,) = result["examples"]
    assert example == {
        "lead_id": mid["lead_id"], "actual_stage": "sql", "candidate_stage": "engaged",
        "actual_queue": mid["queue"], "candidate_queue": None,
    }  # fmt: skip
    enterprise = {s["segment"]: (s["actual"], s["candidate"]) for s in result["mqls_by_segment"]}
    assert enterprise["enterprise"] == (1, 1)  # the 2,500-employee lead, under both
    # the same replay from the command line
    candidate = tmp_path / "strict.yaml"
    candidate.write_text(STRICT, encoding="utf-8")
    env = {"LEADROUTER_DATABASE_URL": db_url}
    args = ["agreement", "simulate", str(candidate), "--from", window["from"][:19], "--to", window["to"][:19]]
    printed = await asyncio.to_thread(run_cli, [*args, "--json"], env)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["examples"] == result["examples"]
    table = await asyncio.to_thread(run_cli, args, env)
    assert "1 leads would end in another stage" in table.stdout
