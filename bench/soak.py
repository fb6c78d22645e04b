"""Soak test: the service under a fixed request rate for minutes; memory growth, errors, latency.

Run from the repository root (not part of CI)::

    .venv/bin/python bench/soak.py [--minutes 3] [--rate 100]

It migrates a fresh SQLite file and runs ``leadrouter serve`` (one worker, its writer process, the
clock worker and the assigner; Kafka off) on the example agreement with a 30-second wall-clock first
touch, so clocks breach and escalations reassign all along. An open-loop client sends ``--rate``
requests per second on schedule (70 % new leads, a third of them qualifying; 20 % activities and 10 %
feedback on earlier leads), each timed from when it was due, so a stall shows as latency rather than
as fewer requests. Every 5 seconds it samples the resident memory of the service's processes. It
reports error count (anything but 2xx), latency percentiles per minute and overall, and memory at the
end of the first minute (after warm-up) and at the end, with the growth per hour from a least-squares
line through the samples after warm-up. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.leads import lead_body, qualified_lead_body  # noqa: E402
from tests.support.service import ServiceProcess, run_cli  # noqa: E402

AGREEMENT = ROOT / "deploy" / "agreements" / "example.yaml"
WARMUP_S = 60.0
SAMPLE_EVERY_S = 5.0


def _rss_by_process(pid: int) -> dict[str, float]:
    """Resident memory of ``pid`` (the API process) and its descendants (its writer process), in MiB
    (from /proc)."""
    kib = {"api": 0, "writer": 0}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            role = "writer" if b"services.writer" in Path(f"/proc/{current}/cmdline").read_bytes() else "api"
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kib[role] += int(line.split()[1])
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return {role: round(value / 1024, 1) for role, value in kib.items()}


def _slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per hour."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s for s, _ in samples], [m for _, m in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    denominator = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / denominator * 3600


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


class Load:
    """The open-loop client: requests on schedule, their latencies and failures."""

    def __init__(self, client: httpx.AsyncClient, rate: float) -> None:
        self.client = client
        self.rate = rate
        self.leads: list[str] = []
        self.latencies: list[tuple[float, float]] = []  # (seconds since start, ms)
        self.errors: dict[str, int] = {}
        self.random = random.Random(7)

    def _request(self) -> tuple[str, str, dict[str, Any]]:
        roll = self.random.random()
        if roll < 0.2 and self.leads:
            lead = self.random.choice(self.leads)
            return (
                "activity",
                f"/v1/leads/{lead}/activities",
                {"type": self.random.choice(["page_view", "email_click"])},
            )
        if roll < 0.3 and self.leads:
            lead = self.random.choice(self.leads)
            body = {"outcome": self.random.choice(["touched", "accepted"]), "event_id": str(uuid.uuid4())}
            return "feedback", f"/v1/leads/{lead}/feedback", body
        external_id = f"soak-{uuid.uuid4()}"
        if self.random.random() < 1 / 3:
            return (
                "lead",
                "/v1/leads",
                qualified_lead_body(external_id=external_id, email=f"{external_id}@acme.example"),
            )
        return "lead", "/v1/leads", lead_body(external_id=external_id, email=f"{external_id}@example.org")

    async def _send(self, started: float, due: float) -> None:
        kind, path, body = self._request()
        try:
            response = await self.client.post(path, json=body)
            if response.status_code >= 300:
                self.errors[f"{kind} {response.status_code}"] = (
                    self.errors.get(f"{kind} {response.status_code}", 0) + 1
                )
            elif kind == "lead":
                self.leads.append(response.json()["lead_id"])
        except httpx.HTTPError as error:
            self.errors[type(error).__name__] = self.errors.get(type(error).__name__, 0) + 1
        self.latencies.append((due - started, (time.monotonic() - due) * 1000))

    async def run(self, seconds: float) -> None:
        """Send on schedule for ``seconds``, then wait for the answers still out."""
        started = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while (due := started + n / self.rate) < started + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(self._send(started, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks)


async def soak(service: ServiceProcess, minutes: float, rate: float) -> dict[str, Any]:
    """Drive ``service`` for ``minutes``; the figures."""
    assert service.pid is not None
    samples: list[tuple[float, float]] = []
    started = time.monotonic()

    by_process_after_warmup: dict[str, float] = {}

    async def sample() -> None:
        while True:
            elapsed, by_process = time.monotonic() - started, _rss_by_process(service.pid or 0)
            samples.append((elapsed, sum(by_process.values())))
            if elapsed >= WARMUP_S and not by_process_after_warmup:
                by_process_after_warmup.update(by_process)
            await asyncio.sleep(SAMPLE_EVERY_S)

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30.0, limits=limits) as client:
        load = Load(client, rate)
        sampler = asyncio.create_task(sample())
        await load.run(minutes * 60)
        sampler.cancel()
        by_process_end = _rss_by_process(service.pid)
        samples.append((time.monotonic() - started, sum(by_process_end.values())))
        metrics = (await client.get("/metrics")).text
    after_warmup = [(t, mb) for t, mb in samples if t >= WARMUP_S] or samples[-1:]
    per_minute = []
    for minute in range(int(minutes + 0.999)):
        window = [ms for t, ms in load.latencies if minute * 60 <= t < (minute + 1) * 60]
        per_minute.append({
            "minute": minute + 1, "requests": len(window), "p50_ms": round(_percentile(window, 0.5), 1),
            "p99_ms": round(_percentile(window, 0.99), 1),
        })  # fmt: skip
    latencies = [ms for _, ms in load.latencies]
    return {
        "requests": len(latencies), "errors": sum(load.errors.values()), "error_kinds": load.errors,
        "achieved_rate_per_s": round(len(latencies) / (minutes * 60), 1),
        "p50_ms": round(_percentile(latencies, 0.5), 1), "p99_ms": round(_percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=0.0), 1), "per_minute": per_minute,
        "rss_mb_after_warmup": round(after_warmup[0][1], 1), "rss_mb_end": round(samples[-1][1], 1),
        "rss_mb_by_process_after_warmup": by_process_after_warmup, "rss_mb_by_process_end": by_process_end,
        "rss_growth_mb": round(samples[-1][1] - after_warmup[0][1], 1),
        "rss_growth_mb_per_hour": round(_slope_per_hour(after_warmup), 1),
        "breaches": _metric_sum(metrics, "leadrouter_sla_breaches_total"),
        "escalations": _metric_sum(metrics, "leadrouter_sla_escalations_total"),
        "handoffs": _metric_sum(metrics, "leadrouter_handoffs_total"),
    }  # fmt: skip


def _metric_sum(exposition: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in exposition.splitlines() if line.startswith(name + "{")
    )


def main() -> int:
    """Run the soak and print the figures."""
    parser = argparse.ArgumentParser(description="leadrouter soak test (see module docstring)")
    parser.add_argument("--minutes", type=float, default=3.0, help="How long to drive the service")
    parser.add_argument("--rate", type=float, default=100.0, help="Requests per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadrouter-soak-") as tmp:
        workdir = Path(tmp)
        agreement = workdir / "agreement.yaml"
        agreement.write_text(
            AGREEMENT.read_text(encoding="utf-8").replace(
                "within: PT4H\n    calendar: dach-office", "within: PT30S"
            ),
            encoding="utf-8",
        )
        env = {
            "LEADROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'soak.db'}",
            "LEADROUTER_AGREEMENT_PATH": str(agreement),
            "LEADROUTER_LOG_LEVEL": "WARNING",
        }
        if run_cli(["migrate"], env).returncode != 0:
            raise SystemExit("migrate failed")
        service = ServiceProcess(env, workdir / "service.log")
        service.start(timeout=60)
        print(
            f"soak: {args.minutes} min at {args.rate:.0f} requests/s against {service.base_url}", flush=True
        )
        try:
            figures = asyncio.run(soak(service, args.minutes, args.rate))
        finally:
            service.stop()
    for row in figures["per_minute"]:
        print(f"  minute {row['minute']:>3}: {row['requests']:>6} requests, "
              f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms")  # fmt: skip
    print(
        f"  {figures['requests']:,} requests, {figures['errors']} errors; "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; "
        f"memory {figures['rss_mb_after_warmup']} MiB "
        f"after warm-up -> {figures['rss_mb_end']} MiB ({figures['rss_growth_mb_per_hour']} MiB/h; "
        f"by process {figures['rss_mb_by_process_after_warmup']} -> {figures['rss_mb_by_process_end']}); "
        f"{figures['breaches']:.0f} breaches, {figures['escalations']:.0f} escalation actions",
        flush=True,
    )
    print(json.dumps({"bench": "soak", "minutes": args.minutes, "rate_per_s": args.rate, **figures}))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
