"""Agreement files: the example loads; broken files are rejected with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.agreements import AgreementError, check_agreement, load_agreement, parse_agreement, read_header
from tests.conftest import EXAMPLE_AGREEMENT


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE_AGREEMENT.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_example_agreement_loads() -> None:
    agreement = load_agreement(EXAMPLE_AGREEMENT)
    assert agreement.version == "acme-sla@1"
    assert agreement.fallback_queue == "inside-sales"
    assert len(agreement.document.scoring.fit) >= 30
    assert len(agreement.document.queues) >= 15


def test_unknown_field_names_file_line_column_and_rule(tmp_path: Path) -> None:
    path = _broken(tmp_path, "when: seniority in [", "when: seniorty in [")
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    message = str(caught.value)
    line = _line_of(path, "seniorty")
    column = path.read_text().splitlines()[line - 1].index("seniorty") + 1
    assert (
        f"{path}:{line}:{column}: scoring.fit.5.when: rule 'senior-buyer': unknown field 'seniorty'"
        in message
    )
    assert "did you mean 'seniority'?" in message


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            "when: employees between 50 and 199",
            'when: employees between 50 and "x"',
            '"x"',
            "'between' compares numbers, not a string",
        ),
        ('when: seniority == "manager"', "when: seniority == 5", "==", "a string is never equal to a number"),
        ('when: tags contains "priority"', 'when: tags contains and "priority"', "and", "unexpected 'and'"),
        ("when: intent_score >= 70", 'when: __import__("os")', "__import__", "names cannot start with '_'"),
        (
            'title matches "(?i)ops|operations"',
            'title matches "(unclosed"',
            '"(unclosed"',
            "invalid regular expression",
        ),
        (
            'when: utm_medium == "cpc"',
            'when: lower(utm_medium) == "cpc" and exec(utm_medium)',
            "exec",
            "unknown function 'exec'",
        ),
    ],
)
def test_rule_errors_point_at_the_character(
    tmp_path: Path, old: str, new: str, needle: str, expected: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    (problem,) = caught.value.problems
    line = _line_of(path, new)
    assert (problem.line, problem.column) == (line, path.read_text().splitlines()[line - 1].index(needle) + 1)
    assert expected in problem.message


def test_invalid_value_names_the_field_path(tmp_path: Path) -> None:
    path = _broken(tmp_path, "      points: 20\n", "      points: lots\n")
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    (problem,) = caught.value.problems
    assert problem.field == "scoring.fit.0.points"
    assert problem.line == _line_of(path, "points: lots")


def test_unknown_activity_and_missing_fallback_queue(tmp_path: Path) -> None:
    path = _broken(tmp_path, "activity: demo_request", "activity: carrier_pigeon")
    with pytest.raises(AgreementError, match=r"scoring\.engagement\.rules\.0\.activity"):
        load_agreement(path)
    path = _broken(tmp_path, "fallback_queue: inside-sales", "fallback_queue: nowhere")
    with pytest.raises(AgreementError, match=r"handoff\.fallback_queue: 'nowhere' is not a queue id"):
        load_agreement(path)


def test_an_escalation_needs_its_obligation(tmp_path: Path) -> None:
    path = _broken(tmp_path, "  decision:\n    within: P2D\n", "")
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "escalations:\n", "escalations:\n  - obligation: decision\n    actions: [{notify: ops}]\n"
        ),
        encoding="utf-8",
    )
    with pytest.raises(AgreementError, match=r"escalation on decision: obligations\.decision is not set"):
        load_agreement(path)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "title: ACME", "title: [ACME")
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    assert caught.value.problems[0].field == "(yaml)"
    assert caught.value.problems[0].line > 1


def test_a_control_character_is_a_yaml_problem_with_its_line_not_a_crash() -> None:
    check = check_agreement("id: acme\nversion: 1\ntitle: a\x00b\n", "body")
    assert check.agreement is None
    (problem,) = check.problems
    assert (problem.field, problem.line, problem.column) == ("(yaml)", 3, 9)
    assert "#x0000" in problem.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match=r"nope\.yaml"):
        load_agreement(tmp_path / "nope.yaml")


def test_aliases_are_refused_with_their_line(tmp_path: Path) -> None:
    """An alias can expand a small text into a huge document: agreements may not use them."""
    text = "id: a\nversion: 1\nx: &big [1, 2]\ny: *big\n"
    with pytest.raises(AgreementError) as caught:
        parse_agreement(text, "body")
    problem = caught.value.problems[0]
    assert (problem.line, problem.field) == (4, "(yaml)")
    assert "aliases (*name) are not allowed" in problem.message


def test_check_reports_a_failing_test_case_at_its_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "expect: {stage: disqualified}", "expect: {stage: sql}")
    check = check_agreement(path.read_text(), path)
    assert check.agreement is not None
    assert not check.valid
    (problem,) = check.problems
    lines = path.read_text().splitlines()
    assert lines[problem.line - 1] == "  - id: free-mail"  # the test case, not the disqualifier
    assert problem.line > _line_of(path, "tests:")
    assert problem.field == "tests.1"
    assert problem.message == "test case 'free-mail' failed: stage: expected 'sql', got 'disqualified'"
    assert check_agreement(EXAMPLE_AGREEMENT.read_text(), EXAMPLE_AGREEMENT).valid


def test_header_is_read_from_an_invalid_text() -> None:
    assert read_header("id: acme\nversion: 3\nscoring: nonsense\n") == ("acme", 3)
    assert read_header("id: acme\nversion: three\n") is None
    assert read_header("[unclosed") is None
