"""The HTTP API fuzzed from its own OpenAPI document with schemathesis (a bounded run): whatever the
input, no 5xx, and every answer has a documented status, media type and body schema.

It runs against ``leadrouter serve`` (SQLite, the example agreement) with an admin key, so requests get
past authentication and reach validation and the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.service import ServiceProcess, run_cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "fuzz-admin-key"
SCHEMA = schemathesis.openapi.from_dict(orjson.loads((ROOT / "schemas" / "openapi.json").read_bytes()))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("fuzz")
    env = {
        "LEADROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}",
        "LEADROUTER_API_KEYS": ADMIN_KEY,
        "LEADROUTER_RUN_CLOCK_WORKER": "false",
    }
    assert run_cli(["migrate"], env).returncode == 0
    process = ServiceProcess(env, workdir / "service.log")
    process.start(timeout=30)
    yield process
    process.stop()


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_server_error_or_an_undocumented_answer(
    case: schemathesis.Case[Any], service: ServiceProcess
) -> None:
    case.call_and_validate(
        base_url=service.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS
    )
