"""The agreement lifecycle API on real SQLite and PostgreSQL: drafts, activation, retirement, diff."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.events import AgreementActivated
from services.agreements import AgreementError
from services.settings import Settings
from tests.support.app import app_client
from tests.support.leads import lead_body, qualified_lead_body

YAML = {"content-type": "application/yaml"}
V1_MQL = "mql: fit_score >= 40 and engagement_score >= 10"


@pytest.fixture
def agreement_file(agreement_file: Path) -> Path:
    """The test agreement with a ten-minute first touch (version 2 makes it an hour)."""
    agreement_file.write_text(
        agreement_file.read_text(encoding="utf-8").replace("PT2S", "PT10M"), encoding="utf-8"
    )
    return agreement_file


def _settings(db_url: str, agreement: Path, **extra: Any) -> Settings:
    return Settings(database_url=db_url, agreement_path=agreement, run_clock_worker=False, **extra)


def _version(agreement_file: Path, version: int, *replacements: tuple[str, str]) -> str:
    """The test agreement as another version, with some text replaced."""
    text = agreement_file.read_text(encoding="utf-8").replace("version: 1\n", f"version: {version}\n", 1)
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    return text


def _v2(agreement_file: Path) -> str:
    """Stricter MQL (more engagement) and a one-hour first touch."""
    return _version(
        agreement_file, 2, (V1_MQL, "mql: fit_score >= 40 and engagement_score >= 35"), ("PT10M", "PT1H")
    )


async def _statuses(client: httpx.AsyncClient) -> dict[int, str]:
    versions = (await client.get("/v1/agreements", params={"agreement_id": "acme-sla"})).json()["versions"]
    return {v["version"]: v["status"] for v in versions}


async def test_draft_show_diff_activate_retire(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        assert await _statuses(client) == {1: "active"}  # the file, installed at start-up
        nul = await client.get("/v1/agreements", params={"agreement_id": "acme\x00"})  # PostgreSQL: was a 5xx
        assert nul.status_code == 422
        assert nul.json()["errors"][0]["field"] == "query.agreement_id"
        created = await client.post("/v1/agreements", content=_v2(agreement_file), headers=YAML)
        assert created.status_code == 201, created.text
        assert created.headers["location"] == "/v1/agreements/acme-sla/versions/2"
        assert created.json()["status"] == "draft"
        assert created.json()["valid"] is True
        again = await client.post("/v1/agreements", content=_v2(agreement_file), headers=YAML)
        assert again.status_code == 200
        assert again.json()["created_at"] == created.json()["created_at"]
        other = _version(agreement_file, 2, ("title: ACME", "title: Other"))
        clash = await client.post("/v1/agreements", content=other, headers=YAML)
        assert clash.status_code == 409
        assert clash.json()["type"].endswith("/agreement-version-exists")

        shown = (await client.get("/v1/agreements/acme-sla/versions/2")).json()
        assert shown["source"] == _v2(agreement_file)
        assert shown["document"]["stages"]["mql"] == "fit_score >= 40 and engagement_score >= 35"
        diff = (await client.get("/v1/agreements/acme-sla/diff", params={"from": 1, "to": 2})).json()
        changed = {c["path"]: (c["before"], c["after"]) for c in diff["changes"]}
        assert changed == {
            "version": (1, 2),
            "stages.mql": (
                "fit_score >= 40 and engagement_score >= 10",
                "fit_score >= 40 and engagement_score >= 35",
            ),
            "obligations.first_touch.within": ("PT10M", "PT1H"),
        }

        activated = await client.post("/v1/agreements/acme-sla/versions/2/activate")
        assert activated.status_code == 200, activated.text
        assert activated.json()["status"] == "active"
        assert await _statuses(client) == {1: "retired", 2: "active"}
        in_use = await client.post("/v1/agreements/acme-sla/versions/2/retire")
        assert in_use.status_code == 409
        assert in_use.json()["type"].endswith("/agreement-in-use")
        rollback = await client.post("/v1/agreements/acme-sla/versions/1/activate")
        assert rollback.status_code == 200
        assert await _statuses(client) == {1: "active", 2: "retired"}
        feed = (await client.get("/v1/events")).json()["events"]
    activations = [
        AgreementActivated.model_validate(e["data"])
        for e in feed
        if e["type"] == "com.leadrouter.agreement.activated"
    ]
    assert [(a.version, a.previous_version) for a in activations] == [(1, None), (2, 1), (1, 2)]
    assert {e["subject"] for e in feed} == {"acme-sla"}


async def test_a_draft_with_problems_is_stored_but_cannot_be_activated(
    db_url: str, agreement_file: Path
) -> None:
    failing = _version(agreement_file, 3, ("expect: {stage: disqualified}", "expect: {stage: sql}"))
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        created = await client.post("/v1/agreements", content=failing, headers=YAML)
        assert created.status_code == 201, created.text
        assert created.json()["valid"] is False
        (problem,) = created.json()["problems"]
        assert problem["code"] == "test-case"
        assert failing.splitlines()[problem["line"] - 1] == "  - id: free-mail"
        refused = await client.post("/v1/agreements/acme-sla/versions/3/activate")
        assert refused.status_code == 422
        assert refused.json()["type"].endswith("/agreement-invalid")
        assert refused.json()["errors"][0]["line"] == problem["line"]
        assert await _statuses(client) == {1: "active", 3: "draft"}
        retired = await client.post("/v1/agreements/acme-sla/versions/3/retire")
        assert retired.json()["status"] == "retired"
        missing = await client.post("/v1/agreements/acme-sla/versions/9/activate")
        assert missing.status_code == 404


async def test_bad_agreement_bodies_are_refused_and_change_nothing(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file, max_agreement_bytes=4096)) as (client, _):
        no_header = await client.post("/v1/agreements", content="title: nameless\n", headers=YAML)
        assert no_header.status_code == 422
        aliases = "id: a\nversion: 1\nx: &big [1, 2]\ny: *big\n"
        alias = await client.post("/v1/agreements", content=aliases, headers=YAML)
        assert alias.status_code == 422
        assert alias.json()["errors"][0]["line"] == 4
        wrong_type = await client.post(
            "/v1/agreements", content="id: a\nversion: 1\n", headers={"content-type": "text/html"}
        )
        assert wrong_type.status_code == 415
        too_big = await client.post("/v1/agreements", content=_v2(agreement_file), headers=YAML)
        assert too_big.status_code == 413
        not_utf8 = await client.post("/v1/agreements", content=b"id: \xff\n", headers=YAML)
        assert not_utf8.status_code == 400
        bad_id = await client.get("/v1/agreements/Not%20An%20Id/versions/1")
        assert bad_id.status_code == 422
        checked = await client.post("/v1/agreements/validate", content="id: a\nversion: 1\n", headers=YAML)
        assert checked.status_code == 200
        assert checked.json()["valid"] is False
        assert checked.json()["agreement_id"] == "a"
        assert {e["field"] for e in checked.json()["problems"]} >= {"title", "scoring"}
        assert await _statuses(client) == {1: "active"}
        listed = (await client.get("/v1/agreements")).json()["versions"]
    assert [(v["agreement_id"], v["version"]) for v in listed] == [("acme-sla", 1)]


async def test_activation_switches_new_decisions_and_spares_leads_in_flight(
    db_url: str, agreement_file: Path
) -> None:
    """Leads and clocks started under version 1 keep their stage, deadline and version."""
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        before = (await client.post("/v1/leads", json=qualified_lead_body(country="BE"))).json()
        mql = (await client.post("/v1/leads", json=lead_body())).json()
        url = f"/v1/leads/{mql['lead_id']}/activities"
        assert (await client.post(url, json={"type": "webinar_attended"})).json()[
            "stage"
        ] == "mql"  # 15 >= 10
        await client.post("/v1/agreements", content=_v2(agreement_file), headers=YAML)
        await client.post("/v1/agreements/acme-sla/versions/2/activate")
        after = (await client.post("/v1/leads", json=qualified_lead_body(country="BE"))).json()
        # Under version 2, 16 engagement points are not enough for MQL, but stages never move back.
        assert (await client.post(url, json={"type": "page_view"})).json()["stage"] == "mql"
        touched = await client.post(
            f"/v1/leads/{before['lead_id']}/feedback", json={"outcome": "touched", "rep_id": before["owner"]}
        )
        assert touched.status_code == 202
        old, new, kept = [
            (await client.get(f"/v1/leads/{lead['lead_id']}")).json() for lead in (before, after, mql)
        ]
    assert old["agreement_version"] == "acme-sla@1"
    old_clock, old_attempts, _ = old["clocks"]
    assert (old_clock["obligation"], old_clock["state"]) == ("first_touch", "met")
    assert (old_attempts["state"], old_attempts["attempts_made"]) == ("open", 1)  # the touch: 1 of 3
    assert _seconds(old_clock["started_at"], old_clock["due_at"]) == pytest.approx(
        600, abs=0.01
    )  # version 1's
    assert new["agreement_version"] == "acme-sla@2"
    new_clock = new["clocks"][0]
    assert new_clock["obligation"] == "first_touch"
    assert _seconds(new_clock["started_at"], new_clock["due_at"]) == pytest.approx(3600, abs=0.01)
    assert kept["stage"] == "mql"
    assert kept["agreement_version"] == "acme-sla@2"  # re-evaluated by version 2, still an MQL


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)) / timedelta(seconds=1)


async def test_restart_keeps_the_version_activated_through_the_api(db_url: str, agreement_file: Path) -> None:
    settings = _settings(db_url, agreement_file)
    async with app_client(settings) as (client, _):
        await client.post("/v1/agreements", content=_v2(agreement_file), headers=YAML)
        await client.post("/v1/agreements/acme-sla/versions/2/activate")
    async with app_client(settings) as (client, _):  # the file still says version 1, status active
        assert await _statuses(client) == {1: "retired", 2: "active"}
        lead = (await client.post("/v1/leads", json=qualified_lead_body())).json()
        assert (await client.get(f"/v1/leads/{lead['lead_id']}")).json()["agreement_version"] == "acme-sla@2"
    # A newer file version with status active is activated at start-up ...
    agreement_file.write_text(_version(agreement_file, 3), encoding="utf-8")
    async with app_client(settings) as (client, _):
        assert await _statuses(client) == {1: "retired", 2: "retired", 3: "active"}
    # ... and a changed text under a stored version number is refused.
    agreement_file.write_text(
        _version(agreement_file, 3, ("title: ACME", "title: Changed")), encoding="utf-8"
    )
    with pytest.raises(AgreementError, match="version 3 of acme-sla is already stored with another text"):
        async with app_client(settings):
            pass


async def test_concurrent_activations_leave_exactly_one_active(db_url: str, agreement_file: Path) -> None:
    async with app_client(_settings(db_url, agreement_file)) as (client, _):
        for version in range(2, 6):
            await client.post("/v1/agreements", content=_version(agreement_file, version), headers=YAML)
        replies = await asyncio.gather(
            *(client.post(f"/v1/agreements/acme-sla/versions/{v}/activate") for v in (2, 3, 4, 5, 2, 3))
        )
        assert {r.status_code for r in replies} == {200}
        statuses = await _statuses(client)
    assert list(statuses.values()).count("active") == 1
