"""A real Prometheus scrapes the service with deploy/prometheus/alerts.yml and raises the breach alert."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.components import free_port, terminate, unavailable, wait_for_port
from tests.support.leads import qualified_lead_body
from tests.support.service import ServiceProcess, run_cli

pytestmark = pytest.mark.e2e

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _prometheus(target: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable("prometheus not found (Debian package prometheus)")
    assert binary is not None
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "leadrouter", "static_configs": [{"targets": [target]}]}],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    argv = [
        binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, timeout=30)
    return process, f"http://127.0.0.1:{port}"


async def _scraped(client: httpx.AsyncClient, timeout: float = 60) -> None:
    """Wait until Prometheus has scraped the service twice (it applies new targets only every 5 s)."""
    deadline = time.monotonic() + timeout
    query = {"query": "count_over_time(up[1m])"}
    while time.monotonic() < deadline:
        result = (await client.get("/api/v1/query", params=query)).json()["data"]["result"]
        if result and float(result[0]["value"][1]) >= 2:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("Prometheus did not scrape the service")


async def _alerts(client: httpx.AsyncClient) -> dict[str, set[str]]:
    """Alert name -> the states its instances are in (pending, firing)."""
    body: dict[str, Any] = (await client.get("/api/v1/alerts")).json()
    states: dict[str, set[str]] = {}
    for alert in body["data"]["alerts"]:
        states.setdefault(alert["labels"]["alertname"], set()).add(alert["state"])
    return states


async def test_a_missed_deadline_fires_the_breach_alert(
    sqlite_url: str, agreement_file: Path, tmp_path: Path
) -> None:
    env = {
        "LEADROUTER_DATABASE_URL": sqlite_url,
        "LEADROUTER_AGREEMENT_PATH": str(agreement_file),  # a 2-second first touch on the wall clock
    }
    assert run_cli(["migrate"], env).returncode == 0
    service = ServiceProcess(env, tmp_path / "service.log")
    service.start()
    prometheus, prometheus_url = _prometheus(f"127.0.0.1:{service.port}", tmp_path)
    try:
        async with (
            httpx.AsyncClient(base_url=service.base_url, timeout=10) as client,
            httpx.AsyncClient(base_url=prometheus_url, timeout=10) as prom,
        ):
            await _scraped(prom)  # the counters at 0 are scraped before anything happens
            assert "LeadrouterSlaBreach" not in await _alerts(prom)
            accepted = await client.post("/v1/leads", json=qualified_lead_body())
            assert accepted.status_code == 201, accepted.text
            deadline = time.monotonic() + 60
            states: dict[str, set[str]] = {}
            while time.monotonic() < deadline:
                states = await _alerts(prom)
                if "firing" in states.get("LeadrouterSlaBreach", set()) and states.get(
                    "LeadrouterSlaBreachRate"
                ):
                    break
                await asyncio.sleep(0.5)
    finally:
        terminate(prometheus, 10)
        service.stop()
    assert states.get("LeadrouterSlaBreach") == {"firing"}, (tmp_path / "prometheus.log").read_text()[-2000:]
    assert states.get("LeadrouterSlaBreachRate") == {"pending"}  # 1 of 1 closed clocks missed, for 15 minutes
    assert "LeadrouterClockWorkerStalled" not in states or states["LeadrouterClockWorkerStalled"] == {
        "pending"
    }
