"""The command line: help texts, migrate on a fresh SQLite file, clear errors for a bad agreement."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.service import ServiceProcess, run_cli

pytestmark = pytest.mark.e2e


def test_help_explains_each_command() -> None:
    top = run_cli(["--help"], {})
    assert top.returncode == 0
    assert "migrate" in top.stdout
    assert "serve" in top.stdout
    serve = run_cli(["serve", "--help"], {})
    assert serve.returncode == 0
    for option in ("--host", "--port", "--workers", "--no-relay", "--no-clock-worker", "--no-assigner"):
        assert option in serve.stdout


def test_migrate_creates_the_schema_and_is_repeatable(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    env = {"LEADROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    assert run_cli(["migrate"], env).returncode == 0
    assert run_cli(["migrate"], env).returncode == 0
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"leads", "lead_events", "decisions", "outbox", "sla_clocks", "queues", "reps"} <= tables


def test_serve_refuses_an_invalid_agreement_with_file_and_line(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    agreement = tmp_path / "bad.yaml"
    agreement.write_text("id: x\nversion: 0\n", encoding="utf-8")
    env = {
        "LEADROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "LEADROUTER_AGREEMENT_PATH": str(agreement),
    }
    assert run_cli(["migrate"], env).returncode == 0
    service = ServiceProcess(env, tmp_path / "service.log")
    with pytest.raises(RuntimeError) as caught:
        service.start(timeout=20)
    assert f"{agreement}:2:10: version:" in str(caught.value)
