"""The report page in a real browser: Playwright drives Debian's chromium against a service on a
seeded database, checks every figure shown against the JSON report, and saves a screenshot
(``test-artifacts/report-page.png``, or under ``LEADROUTER_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from playwright.async_api import async_playwright

from services.db.engine import create_engine
from services.db.uow import UnitOfWork
from services.settings import Settings
from tests.conftest import EXAMPLE_AGREEMENT
from tests.integration.test_reports import HISTORY
from tests.support.components import unavailable
from tests.support.service import ServiceProcess

KEY = "lr_report_page_test_key"
WINDOW = {"from": "2026-11-01", "to": "2026-12-01"}
ARTIFACTS = Path(
    os.environ.get("LEADROUTER_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


async def _seed(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    async with UnitOfWork(engine).transaction() as conn:
        for table, rows in HISTORY.items():
            await conn.execute(sa.insert(table), rows)
    await engine.dispose()


async def _figures(page: Any) -> dict[str, str]:
    """Every ``data-figure`` on the page and its raw ``data-value``."""
    pairs = await page.eval_on_selector_all(
        "[data-figure]", "nodes => nodes.map(n => [n.dataset.figure, n.dataset.value])"
    )
    return dict(pairs)


async def test_the_report_page_shows_the_figures_of_the_json_report(sqlite_url: str, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    await _seed(sqlite_url)
    env = {
        "LEADROUTER_DATABASE_URL": sqlite_url, "LEADROUTER_AGREEMENT_PATH": str(EXAMPLE_AGREEMENT),
        "LEADROUTER_API_KEYS": KEY, "LEADROUTER_RUN_CLOCK_WORKER": "false",
    }  # fmt: skip
    service = ServiceProcess(env, tmp_path / "service.log")
    service.start()
    try:
        async with httpx.AsyncClient(base_url=service.base_url, headers={"X-API-Key": KEY}) as client:
            report = (await client.get("/v1/reports/sla", params=WINDOW)).json()
            card = (await client.get("/v1/agreements/acme-sla/versions/1/scorecard", params=WINDOW)).json()
            anonymous = await client.get("/reports", headers={"X-API-Key": ""})
        assert anonymous.status_code == 401
        assert "Basic" in anonymous.headers["WWW-Authenticate"]  # a browser asks for the key
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            context = await browser.new_context(http_credentials={"username": "review", "password": KEY})
            page = await context.new_page()
            answer = await page.goto(f"{service.base_url}/reports?from={WINDOW['from']}&to={WINDOW['to']}")
            assert answer is not None
            assert answer.status == 200
            shown = await _figures(page)
            statuses = await page.eval_on_selector_all(
                "[data-status]", "nodes => nodes.map(n => [n.dataset.status, n.textContent])"
            )
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            screenshot = ARTIFACTS / "report-page.png"
            await page.screenshot(path=str(screenshot), full_page=True)
            title = await page.title()
            await browser.close()
    finally:
        service.stop()
    total = report["groups"][0]
    assert title == "SLA report 2026-11-01 to 2026-12-01"
    funnel = {
        "leads": total["marketing"]["leads"], "mqls": total["marketing"]["mqls"],
        "sqls": total["marketing"]["sqls"],
        "handed_off": total["marketing"]["handed_off"], "accepted": total["sales"]["accepted"],
        "converted": total["sales"]["converted"],
    }  # fmt: skip
    assert {name: float(shown[f"funnel.{name}"]) for name in funnel} == funnel
    assert funnel["mqls"] == 3  # the seeded history, as in the report tests
    touch = total["sales"]["time_to_first_touch"]
    assert float(shown["touch.count"]) == touch["count"] == 3
    assert float(shown["touch.p50_seconds"]) == touch["p50_seconds"]
    assert [float(shown[f"touch.bucket.{i}"]) for i in range(9)] == [b["count"] for b in touch["histogram"]]
    for week in report["breaches_by_week"]:
        assert float(shown[f"breaches.{week['queue']}.{week['week']}"]) == week["breaches"]
    assert {k: float(v) for k, v in shown.items() if k.startswith("rejected.")} == {
        f"rejected.{reason}": n for reason, n in total["marketing"]["rejected_by_reason"].items()
    }
    for item in card["items"]:
        value = shown[f"goal.{item['item']}"]
        assert (float(value) if value else None) == (
            None if item["actual_value"] is None else float(f"{item['actual_value']:g}")
        ), item["item"]
    assert dict(statuses) == {item["item"]: item["status"].replace("_", " ") for item in card["items"]}
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000
