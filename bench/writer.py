"""Writer benchmark: the ingest writer process alone, fed as fast as it reads, in small and large batches.

Run from the repository root::

    .venv/bin/python bench/writer.py [--leads 30000] [--rounds 2]

``bench/ingest.py`` measures the whole service, but its figures scatter by 20 % on a shared 2-core
machine: wrk, the API process and the writer compete for the cores. This one isolates the part that
limits it. It prepares ``--leads`` unique ~1.5 KB lead requests (the lines the API process sends; a
tenth are asserted MQLs, so they are handed off with clocks), a fresh
SQLite database with the example agreement active, and then pipes all requests into
``python -m services.writer.process`` and times it until the last reply, for a group-commit cap of 32
(the batch size of ``bench/ingest.py``'s 64 closed-loop clients, two cohorts of 32) and of 256,
alternating, ``--rounds`` times each; the median run counts. It checks every request got a 2xx.

From the two batch sizes it fits the writer's time per lead as ``fixed / batch + per_lead``: the
per-batch cost (begin, per-batch statements, the commit's WAL writes and fsync) and the per-lead cost
(deciding, writing). 64 closed-loop clients split into two cohorts of 32 get at most 64 / (2 * fixed
+ 64 * per_lead) leads per second, the writer's 32-lead throughput: the ceiling of
``bench/ingest.py``'s service. ``ratio`` is the 32-lead throughput over the 256-lead one: how much the
per-batch cost takes away at the batch size the service really runs at.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.ingest_request import IngestRequest  # noqa: E402
from services.writer.process import AGREEMENT_ENV, SETTINGS_ENV  # noqa: E402
from services.writer.wire import encode_request  # noqa: E402
from tests.support.service import ServiceProcess, run_cli  # noqa: E402

AGREEMENT = ROOT / "deploy" / "agreements" / "example.yaml"
AGREEMENT_ID = "acme-sla"
BATCHES = (32, 256)
SOURCES = ("hubspot", "salesforce", "marketo", "webform", "zoominfo", "linkedin")
FIRST = ("Mia", "Lukas", "Ada", "Noah", "Elena", "Omar", "Yuki", "Liam", "Sofia", "Ravi", "Ingrid", "Mateo")
LAST = ("Nilsson", "Schmidt", "Rossi", "Dubois", "Tanaka", "Silva", "Novak", "Kowalski", "Berg", "Khan")
COMPANIES = [f"Company {n}" for n in range(400)]
TITLES = ("VP Marketing", "Head of Demand Generation", "CTO", "Procurement Manager", "Analyst", "CFO")
COUNTRIES = ("DE", "AT", "CH", "FR", "GB", "US", "SE", "JP", "BR", "IN")


def lead_bodies(count: int, seed: int = 7) -> list[bytes]:
    """``count`` unique lead bodies of ~1.5 KB, deterministic for a seed."""
    rng = random.Random(seed)
    bodies = []
    for n in range(count):
        first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
        domain = company.lower().replace(" ", "-") + ".com"
        body: dict[str, Any] = {
            "source": rng.choice(SOURCES), "external_id": f"bench-{n}", "event_id": f"evt-{n}",
            "email": f"{first}.{last}.{n}@{domain}".lower(), "first_name": first, "last_name": last,
            "phone": f"+49 30 {rng.randrange(10**6, 10**7)}", "company": company,
            "website": f"https://www.{domain}", "title": rng.choice(TITLES), "seniority": "head",
            "department": "marketing", "industry": rng.choice(("software", "media", "retail", "fintech")),
            "country": rng.choice(COUNTRIES), "city": "Berlin", "employees": rng.randrange(5, 50_000),
            "annual_revenue": rng.randrange(10**5, 10**9), "intent_score": rng.randrange(0, 101),
            "utm_source": "google", "utm_medium": "cpc", "utm_campaign": f"campaign-{rng.randrange(40)}",
            "product_interest": ["analytics", "routing"], "tags": ["bench", f"wave-{n % 7}"],
            "consent_marketing": True,
            "attributes": {f"attribute_{i}": f"value {rng.randrange(10**6)} of {company}" for i in range(16)},
        }  # fmt: skip
        if rng.random() < 0.1:
            body["stage"] = "mql"
        bodies.append(orjson.dumps(body))
    return bodies


def request_lines(bodies: list[bytes]) -> bytes:
    """The lines the API process would send the writer for these bodies (raw; the writer validates)."""
    return b"".join(encode_request(n, IngestRequest("lead", raw)) for n, raw in enumerate(bodies, start=1))


def template_database(workdir: Path) -> Path:
    """A migrated SQLite file with the example agreement active (``leadrouter serve`` loads it)."""
    path = workdir / "template.db"
    env = {
        "LEADROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "LEADROUTER_AGREEMENT_PATH": str(AGREEMENT),
        "LEADROUTER_RUN_CLOCK_WORKER": "false",
    }
    migrated = run_cli(["migrate"], env)
    if migrated.returncode != 0:
        raise RuntimeError(f"leadrouter migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    service = ServiceProcess(env, workdir / "service.log")
    service.start(timeout=60)
    service.stop()
    return path


def run_writer(template: Path, workdir: Path, lines: bytes, count: int, batch: int) -> float:
    """Seconds the writer process takes from its first request to its last reply."""
    database = workdir / f"run-{batch}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, database)
    settings = {"database_url": f"sqlite+aiosqlite:///{database}", "group_commit_max_batch": batch}
    env = {**os.environ, SETTINGS_ENV: json.dumps(settings), AGREEMENT_ENV: AGREEMENT_ID}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.writer.process"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    if b"ready" not in process.stdout.readline():
        raise RuntimeError("the writer process did not start")
    started = time.perf_counter()
    process.stdin.write(lines)  # the pipe buffers little: the writer reads while this writes
    process.stdin.close()
    ok, elapsed = 0, 0.0
    for line in process.stdout:
        message = orjson.loads(line)
        if 200 <= message.get("status", 0) < 300:
            ok += 1
            if ok == count:
                elapsed = time.perf_counter() - started
    process.wait(timeout=60)
    if ok != count:
        raise RuntimeError(f"{ok} of {count} requests were committed (batch {batch})")
    return elapsed


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description="leadrouter writer benchmark (see module docstring)")
    parser.add_argument("--leads", type=int, default=30_000, help="Lead requests per run")
    parser.add_argument("--rounds", type=int, default=2, help="Runs per batch size (median counts)")
    args = parser.parse_args()
    lines = request_lines(lead_bodies(args.leads))
    with tempfile.TemporaryDirectory(prefix="leadrouter-writer-") as tmp:
        workdir = Path(tmp)
        template = template_database(workdir)
        seconds: dict[int, list[float]] = {batch: [] for batch in BATCHES}
        for round_number in range(1, args.rounds + 1):
            for batch in BATCHES:
                elapsed = run_writer(template, workdir, lines, args.leads, batch)
                seconds[batch].append(elapsed)
                print(f"  round {round_number}: batch {batch:>3}: {args.leads / elapsed:,.0f} leads/s")
    median = {batch: statistics.median(values) for batch, values in seconds.items()}
    per_lead = {batch: median[batch] / args.leads for batch in BATCHES}
    small, large = BATCHES
    fixed = (per_lead[small] - per_lead[large]) / (1 / small - 1 / large)
    variable = per_lead[large] - fixed / large
    rate = {batch: args.leads / median[batch] for batch in BATCHES}
    print(
        f"writer alone: {rate[small]:,.0f} leads/s in {small}-lead batches, {rate[large]:,.0f} in"
        f" {large}-lead batches: per batch {fixed * 1e3:.2f} ms + per lead {variable * 1e6:.0f} us"
    )
    result = {
        "bench": "writer", "leads": args.leads, "rounds": args.rounds,
        "leads_per_s_batch_32": round(rate[small], 1), "leads_per_s_batch_256": round(rate[large], 1),
        "ratio": round(rate[small] / rate[large], 4), "batch_fixed_ms": round(fixed * 1e3, 3),
        "per_lead_us": round(variable * 1e6, 1),
    }  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
