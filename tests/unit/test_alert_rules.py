"""The Prometheus alerting rules: valid, unit-tested with promtool, and naming metrics the service exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from services import metrics
from tests.support.components import unavailable

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool not found (Debian package prometheus)")
    assert path is not None
    return path


def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = _promtool()
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        argv = [promtool, *command]
        run = subprocess.run(argv, cwd=PROMETHEUS, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_is_tested_and_uses_exported_metrics_with_a_runbook() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text(encoding="utf-8"))
    tested = {
        case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]
    }
    assert set(alerts) == tested  # each alert is seen firing in a test
    exported = {
        collector._name
        for collector in vars(metrics).values()
        if hasattr(collector, "_name") and str(getattr(collector, "_name", "")).startswith("leadrouter_")
    }
    readme = (PROMETHEUS.parents[1] / "README.md").read_text(encoding="utf-8")
    for name, rule in alerts.items():
        used = set(re.findall(r"leadrouter_[a-z_]+", rule["expr"]))
        assert used, name
        for metric in used:
            assert metric.removesuffix("_total") in exported, f"{name} uses {metric}, which is not exported"
        anchor = rule["annotations"]["runbook_url"].partition("#")[2]
        assert f'<a id="{anchor}"></a>' in readme, f"{name}: no runbook section {anchor} in README.md"


def test_the_alertmanager_example_routes_pages_and_tickets() -> None:
    config = yaml.safe_load((PROMETHEUS / "alertmanager.yml").read_text(encoding="utf-8"))
    receivers = {receiver["name"] for receiver in config["receivers"]}
    routes = config["route"]["routes"]
    assert config["route"]["receiver"] in receivers
    assert {route["receiver"] for route in routes} <= receivers
    assert any('severity="page"' in route["matchers"] for route in routes)
