"""The command line: help texts, migrate on a fresh SQLite file, clear errors for a bad agreement."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
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


def test_keys_are_made_listed_and_revoked_and_the_service_honours_them(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    env = {"LEADROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    assert run_cli(["migrate"], env).returncode == 0
    made = run_cli(
        ["keys", "create", "hubspot", "--scope", "ingest", "-s", "read", "--rate-limit", "600"], env
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.split()[0]
    key_id = key.split("_")[1]
    assert "cannot be shown again" in made.stdout
    admin_file = tmp_path / "admin.key"
    first = run_cli(["keys", "local-admin", "--file", str(admin_file)], env)
    again = run_cli(["keys", "local-admin", "--file", str(admin_file)], env)
    admin = admin_file.read_text(encoding="utf-8").strip()
    assert oct(admin_file.stat().st_mode & 0o777) == "0o600"
    assert admin in first.stdout
    assert f"Authorization: Bearer {admin}" in again.stdout  # the same key, with a curl example
    listed = run_cli(["keys", "list"], env)
    assert key_id in listed.stdout
    assert "ingest read" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout  # never the secret
    bad_scope = run_cli(["keys", "create", "x", "--scope", "everything"], env)
    assert bad_scope.returncode == 2
    assert "not everything" in bad_scope.stderr
    service = ServiceProcess(env, tmp_path / "service.log")
    service.start(timeout=30)
    try:
        assert httpx.get(f"{service.base_url}/v1/events", headers={"X-API-Key": key}).status_code == 200
        assert httpx.get(f"{service.base_url}/v1/events").status_code == 401
        revoked = run_cli(["keys", "revoke", key_id], env)
        assert revoked.returncode == 0
        assert run_cli(["keys", "revoke", key_id], env).returncode == 1
        deadline = time.monotonic() + 15
        status = 200
        while status == 200 and time.monotonic() < deadline:  # within a reload (every 5 s)
            time.sleep(0.5)
            status = httpx.get(f"{service.base_url}/v1/events", headers={"X-API-Key": key}).status_code
        assert status == 401
        assert httpx.get(f"{service.base_url}/v1/events", headers={"X-API-Key": admin}).status_code == 200
    finally:
        service.stop()
    hubspot_row = next(line for line in run_cli(["keys", "list"], env).stdout.splitlines() if key_id in line)
    assert hubspot_row.rstrip().split()[-1] != "-"  # its revocation time
