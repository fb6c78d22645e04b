"""``leadrouter agreement validate|test|diff`` on real files (in-process, through Typer's runner)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from services.agreement_cli import agreement_app
from tests.conftest import EXAMPLE_AGREEMENT

runner = CliRunner()


def _variant(tmp_path: Path, name: str, *replacements: tuple[str, str]) -> Path:
    text = EXAMPLE_AGREEMENT.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_summarises_a_valid_file() -> None:
    result = runner.invoke(agreement_app, ["validate", str(EXAMPLE_AGREEMENT)])
    assert result.exit_code == 0, result.output
    assert "valid agreement acme-sla@1" in result.output
    assert "30 fit rules" in result.output


def test_validate_names_file_line_and_exits_1(tmp_path: Path) -> None:
    path = _variant(tmp_path, "bad.yaml", ("fit_score >= 40 and engagement_score >= 10", "fit_scor >= 40"))
    result = runner.invoke(agreement_app, ["validate", str(path)])
    assert result.exit_code == 1
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "fit_scor >=" in text)
    assert f"{path}:{line}:" in result.output
    assert "unknown field 'fit_scor'" in result.output


def test_test_prints_a_table_and_passes() -> None:
    result = runner.invoke(agreement_app, ["test", str(EXAMPLE_AGREEMENT)])
    assert result.exit_code == 0, result.output
    assert "PASS  free-mail" in result.output
    assert "4 passed, 0 failed" in result.output


def test_test_exits_1_and_explains_a_failing_case(tmp_path: Path) -> None:
    path = _variant(tmp_path, "failing.yaml", ("expect: {stage: disqualified}", "expect: {stage: mql}"))
    result = runner.invoke(agreement_app, ["test", str(path)])
    assert result.exit_code == 1
    assert "FAIL  free-mail" in result.output
    assert "stage: expected 'mql', got 'disqualified'" in result.output
    assert "3 passed, 1 failed" in result.output


def test_diff_lists_changes_by_rule_id(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, "v2.yaml", ("version: 1", "version: 2"), ("fit_score >= 40 and engagement_score >= 10",
                                                          "fit_score >= 50 and engagement_score >= 10"),
    )  # fmt: skip
    result = runner.invoke(agreement_app, ["diff", str(EXAMPLE_AGREEMENT), str(path)])
    assert result.exit_code == 1
    assert "~ version: 1 -> 2" in result.output
    assert "~ stages.mql: fit_score >= 40 and engagement_score >= 10 -> fit_score >= 50" in result.output
    assert "2 change(s)" in result.output
    same = runner.invoke(agreement_app, ["diff", str(EXAMPLE_AGREEMENT), str(EXAMPLE_AGREEMENT)])
    assert same.exit_code == 0
    assert "0 change(s)" in same.output
