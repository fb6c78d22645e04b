"""Ingest benchmark: leads/s and latency of ``POST /v1/leads`` next to a bare FastAPI baseline.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--requests 24000] [--rounds 3] [--warmup 2000] [--concurrency 64]

It serves ``bench/support/baseline_app.py`` (FastAPI + uvicorn + ``LeadIn`` validation, no database) and
the real service (``leadrouter migrate`` + ``leadrouter serve --workers 1`` on a fresh SQLite file,
Kafka off), and drives them with wrk and ``bench/support/leads.lua`` (unique ~1.5 KB lead bodies, a
fixed number of requests after an uncounted warm-up), alternating: baseline, service, baseline,
service ... for ``--rounds`` rounds. Each round's ratio compares two runs made seconds apart; the
reported figures are the median round's. It checks that every request got a 2xx and that the
database holds exactly one lead per 2xx, and prints a table and, as the last line, one JSON object.

wrk runs on the same machine as the server; its CPU use and the server's are reported so that a
client-bound run shows. Latency percentiles are wrk's, which include its coordinated-omission
correction (synthetic samples for answers slower than twice the mean interval).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "support" / "leads.lua"
BASELINE_APP = ROOT / "bench" / "support" / "baseline_app.py"
AGREEMENT = ROOT / "deploy" / "agreements" / "example.yaml"
BIN = Path(sys.executable).parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"
RESULT_PREFIX = "BENCH_RESULT "
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            pids.extend(_process_tree(int(child)))
    return pids


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads); 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The run cannot be trusted: a server failed, a request failed, or writes went missing."""


@dataclass(frozen=True)
class WrkRun:
    """One wrk run against one target, as measured by ``bench/support/leads.lua``."""

    requests: int
    ok: int
    statuses: dict[str, int]
    elapsed_s: float
    body_bytes: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    wrk_cpu_s: float
    server_cpu_s: float

    @property
    def per_s(self) -> float:
        """Successful requests per second."""
        return self.ok / self.elapsed_s

    @property
    def avg_body_bytes(self) -> float:
        """Average request body size."""
        return self.body_bytes / self.requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(**extra: str) -> dict[str, str]:
    """The inherited environment without any LEADROUTER_* (so Kafka and API keys stay off), plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LEADROUTER_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


class Server:
    """A server subprocess logging to a file; stopped with SIGTERM, killed if it does not exit."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.port = port
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until ``/healthz`` answers 200."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode} on startup\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise BenchError(f"{self.name} not healthy after {STARTUP_TIMEOUT_S:.0f}s\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the process and its live children (the writer process)."""
        assert self.proc is not None
        return sum(_process_cpu_seconds(pid) for pid in _process_tree(self.proc.pid))

    def stop(self) -> int | None:
        """SIGTERM, wait for a graceful exit, SIGKILL if it takes too long; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise BenchError(f"{self.name} ignored SIGTERM for {STOP_TIMEOUT_S:.0f}s; killed") from None
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL if still running (error path)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(f"  [{self.name}] {line}" for line in text.splitlines()[-lines:])


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """Start ``server``; on leaving, stop it (SIGTERM) and fail on a non-zero exit, or kill it on error."""
    try:
        server.start()
        yield server
    except BaseException:
        server.kill()
        raise
    code = server.stop()
    if code not in (0, -signal.SIGTERM):  # uvicorn re-raises SIGTERM after its graceful shutdown
        raise BenchError(f"{server.name} exited with {code} after SIGTERM\n{server.log_tail()}")


def run_wrk(
    server: Server, tag: str, requests: int, threads: int, connections: int, workdir: Path, max_s: int
) -> WrkRun:
    """Send exactly ``requests`` unique leads at ``connections`` concurrency; fail on any error."""
    per_thread = requests // threads
    finish_file = workdir / f"finished-{server.name}-{tag}"
    argv = [
        WRK, f"-t{threads}", f"-c{connections}", f"-d{max_s}s", "--timeout", "10s", "-s", str(LUA),
        f"{server.url}/v1/leads", "--", tag, str(per_thread), str(finish_file), str(threads),
    ]  # fmt: skip
    cpu_before = server.cpu_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=max_s + 60, check=False)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu_seconds() - cpu_before
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    expected = per_thread * threads
    errors = {name: count for name, count in result["errors"].items() if count and name != "status"}
    statuses = {str(code): int(count) for code, count in result["statuses"].items()}
    problems = []
    if errors:
        problems.append(f"socket errors {errors}")
    if result["ok"] != result["answered"]:
        problems.append(f"non-2xx answers: statuses {statuses}")
    if result["finished_threads"] != threads or result["answered"] != expected or result["sent"] != expected:
        problems.append(
            f"sent {result['sent']}, answered {result['answered']} of {expected} in {max_s}s (--max-seconds)"
        )
    if problems:
        raise BenchError(f"{server.name} {tag}: " + "; ".join(problems) + f"\n{server.log_tail()}")
    latency = result["latency_us"]
    return WrkRun(
        requests=expected,
        ok=int(result["ok"]),
        statuses=statuses,
        elapsed_s=float(result["elapsed_s"]),
        body_bytes=int(result["body_bytes"]),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        p999_ms=latency["p999"] / 1000,
        max_ms=latency["max"] / 1000,
        mean_ms=latency["mean"] / 1000,
        wrk_cpu_s=wrk_cpu,
        server_cpu_s=server_cpu,
    )


def warm_up(server: Server, args: argparse.Namespace, workdir: Path) -> WrkRun:
    """An uncounted run (imports, caches, the first SQLite pages)."""
    return run_wrk(server, "warm", args.warmup, args.threads, args.concurrency, workdir, args.max_seconds)


def measure_round(server: Server, n: int, args: argparse.Namespace, workdir: Path) -> WrkRun:
    """One measured run of ``--requests`` requests."""
    return run_wrk(server, f"r{n}", args.requests, args.threads, args.concurrency, workdir, args.max_seconds)


def median_round(rounds: list[tuple[WrkRun, WrkRun]]) -> tuple[WrkRun, WrkRun]:
    """The (baseline, service) pair whose ratio is the median of all rounds' ratios."""
    ordered = sorted(rounds, key=lambda pair: pair[1].per_s / pair[0].per_s)
    return ordered[len(ordered) // 2]


def _baseline_argv(port: int) -> list[str]:
    """uvicorn serving bench/support/baseline_app.py like ``leadrouter serve`` serves the service."""
    return [
        str(BIN / "uvicorn"), f"{BASELINE_APP.stem}:app", "--app-dir", str(BASELINE_APP.parent),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "info",
    ]  # fmt: skip


def migrate(env: dict[str, str], cwd: Path) -> None:
    """``leadrouter migrate`` on the benchmark database."""
    proc = subprocess.run(
        [str(BIN / "leadrouter"), "migrate"], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise BenchError(f"leadrouter migrate failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def check_database(db_path: Path, expected: int) -> dict[str, Any]:
    """Fail unless the stopped service's database holds exactly ``expected`` leads and inbound events."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        leads = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM lead_events").fetchone()[0]
        stages = dict(
            conn.execute("SELECT stage, count(*) FROM leads GROUP BY stage ORDER BY stage").fetchall()
        )
        handed_off = conn.execute("SELECT count(*) FROM leads WHERE owner IS NOT NULL").fetchone()[0]
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        clocks = conn.execute("SELECT count(*) FROM sla_clocks").fetchone()[0]
    finally:
        conn.close()
    if leads != expected or events != expected:
        raise BenchError(
            f"database holds {leads} leads and {events} events; wrk counted {expected} 2xx answers"
        )
    return {
        "leads": leads,
        "stages": stages,
        "handed_off": handed_off,
        "outbox": outbox,
        "sla_clocks": clocks,
    }


_HEADER = ("target", "requests", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms", "srv CPU", "wrk CPU")
_LAYOUT = "{:<9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}"


def _row(name: str, run: WrkRun) -> str:
    server_cpu = f"{100 * run.server_cpu_s / run.elapsed_s:.0f}%"
    wrk_cpu = f"{100 * run.wrk_cpu_s / run.elapsed_s:.0f}%"
    times = (f"{ms:.1f}" for ms in (run.p50_ms, run.p90_ms, run.p99_ms, run.max_ms))
    return _LAYOUT.format(name, run.ok, f"{run.per_s:.0f}", *times, server_cpu, wrk_cpu)


def report(
    rounds: list[tuple[WrkRun, WrkRun]], db: dict[str, Any], args: argparse.Namespace, wall_s: float
) -> dict[str, Any]:
    """Print the table; return the JSON summary (figures of the median round)."""
    base, svc = median_round(rounds)
    ratio = svc.per_s / base.per_s
    print()
    print(_LAYOUT.format(*_HEADER) + "   ratio")
    for n, (round_base, round_svc) in enumerate(rounds, start=1):
        print(_row(f"base r{n}", round_base))
        print(_row(f"svc r{n}", round_svc) + f"   {round_svc.per_s / round_base.per_s:.3f}")
    ratios = ", ".join(f"{b_s[1].per_s / b_s[0].per_s:.3f}" for b_s in rounds)
    print(f"ratio service/baseline: {ratio:.3f} (median of {len(rounds)} rounds: {ratios})   (target >= 0.5)")
    print(f"concurrency {args.concurrency}, wrk threads {args.threads}, avg body {svc.avg_body_bytes:.0f} B, "
          f"{os.cpu_count()} CPUs shared by wrk and the server")  # fmt: skip
    print(f"database: {db['leads']} leads {db['stages']}, {db['handed_off']} handed off, "
          f"{db['outbox']} outbox rows, {db['sla_clocks']} SLA clocks; wall {wall_s:.1f}s")  # fmt: skip
    return {
        "bench": "ingest",
        "leads_per_s": round(svc.per_s, 1),
        "baseline_per_s": round(base.per_s, 1),
        "ratio": round(ratio, 4),
        "p50_ms": round(svc.p50_ms, 2),
        "p90_ms": round(svc.p90_ms, 2),
        "p99_ms": round(svc.p99_ms, 2),
        "max_ms": round(svc.max_ms, 2),
        "baseline_p50_ms": round(base.p50_ms, 2),
        "baseline_p90_ms": round(base.p90_ms, 2),
        "baseline_p99_ms": round(base.p99_ms, 2),
        "baseline_max_ms": round(base.max_ms, 2),
        "ratios": [round(b_s[1].per_s / b_s[0].per_s, 4) for b_s in rounds],
        "requests": svc.ok,
        "rounds": len(rounds),
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "wrk_threads": args.threads,
        "body_bytes": round(svc.avg_body_bytes),
        "service_cpu": round(svc.server_cpu_s / svc.elapsed_s, 3),
        "service_wrk_cpu": round(svc.wrk_cpu_s / svc.elapsed_s, 3),
        "baseline_cpu": round(base.server_cpu_s / base.elapsed_s, 3),
        "baseline_wrk_cpu": round(base.wrk_cpu_s / base.elapsed_s, 3),
        "cpus": os.cpu_count(),
        "db_leads": db["leads"],
        "handed_off": db["handed_off"],
        "wall_s": round(wall_s, 1),
    }


def main() -> int:
    """Run both targets, check the database, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description="leadrouter ingest benchmark (see module docstring)")
    parser.add_argument("--requests", type=int, default=24_000, help="Measured requests per target")
    parser.add_argument("--warmup", type=int, default=2_000, help="Uncounted warm-up requests per target")
    parser.add_argument("--concurrency", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--max-seconds", type=int, default=150, help="Give up on a wrk run after this long")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating baseline/service runs (median)")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory (database, logs)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="LEADROUTER_NAME=VALUE",
        help="A setting for the service (repeatable), e.g. LEADROUTER_GROUP_COMMIT_MAX_BATCH=64",
    )
    args = parser.parse_args()
    for name in ("requests", "warmup"):
        if getattr(args, name) % args.threads or getattr(args, name) < args.threads:
            parser.error(f"--{name} must be a positive multiple of --threads")
    if not Path(WRK).exists():
        parser.error(f"wrk not found at {WRK}")
    settings = dict(item.partition("=")[::2] for item in args.set)
    if any(not name.startswith("LEADROUTER_") for name in settings):
        parser.error("--set takes LEADROUTER_NAME=VALUE")

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="leadrouter-bench-"))
    db_path = workdir / "bench.db"
    # cwd=workdir: no stray .env of the checkout is read; paths are absolute.
    env = _env(
        LEADROUTER_DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
        LEADROUTER_AGREEMENT_PATH=str(AGREEMENT),
        **settings,
    )
    ok = False
    try:
        migrate(env, workdir)
        base_port, service_port = _free_port(), _free_port()
        baseline = Server("baseline", _baseline_argv(base_port), _env(), workdir, base_port)
        service = Server(
            "service",
            [str(BIN / "leadrouter"), "serve", "--port", str(service_port), "--workers", "1"],
            env,
            workdir,
            service_port,
        )
        print(f"baseline: {BASELINE_APP.name} (FastAPI + LeadIn, no database)", flush=True)
        print(f"service: leadrouter serve --workers 1, SQLite at {db_path}", flush=True)
        # Both servers run throughout; the rounds alternate between them, so a slow spell of this
        # (shared, noisy) machine hits both sides of a round's ratio rather than one target.
        with running(baseline), running(service):
            warm_up(baseline, args, workdir)
            warm = warm_up(service, args, workdir)
            rounds = []
            for n in range(1, args.rounds + 1):
                base = measure_round(baseline, n, args, workdir)
                svc = measure_round(service, n, args, workdir)
                rounds.append((base, svc))
                print(
                    f"  round {n}: baseline {base.per_s:.0f}/s, service {svc.per_s:.0f}/s "
                    f"(p50 {svc.p50_ms:.1f} ms, p99 {svc.p99_ms:.1f} ms), ratio {svc.per_s / base.per_s:.3f}",
                    flush=True,
                )
        db = check_database(db_path, warm.ok + sum(svc.ok for _, svc in rounds))
        summary = report(rounds, db, args, time.monotonic() - started)
        ok = True
    except BenchError as error:
        print(f"BENCHMARK FAILED: {error}", file=sys.stderr)
        print(f"(logs and database kept in {workdir})", file=sys.stderr)
        return 1
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.keep:
        print(f"kept {workdir}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
