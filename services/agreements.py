"""Read an agreement (a file or an API body): YAML -> validated document -> compiled agreement.

Every problem is located by line and column in the text it came from. ``check_agreement`` also runs
the embedded test cases: a version can only be activated when it compiles and its cases pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.agreement import CompiledAgreement, RuleError, compile_agreement
from router.cases import run_cases
from schemas.agreement import AgreementDocument

Positions = dict[tuple[str | int, ...], yaml.Node]


@dataclass(frozen=True)
class AgreementProblem:
    """One thing wrong with an agreement file, located by line and field path."""

    line: int
    column: int
    field: str
    message: str
    code: str = "invalid"  # invalid (the document's schema) | yaml | rule | test-case | file


class AgreementError(ValueError):
    """An agreement that cannot be used; ``problems`` says where (in ``origin``) and why."""

    def __init__(self, origin: str | Path, problems: list[AgreementProblem]) -> None:
        self.origin = str(origin)
        self.problems = problems
        lines = [f"{origin}:{p.line}:{p.column}: {p.field}: {p.message}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class AgreementCheck:
    """The outcome of checking an agreement text: the compiled agreement, or what is wrong with it.

    ``agreement`` is set when the text compiles (even if a test case fails); ``valid`` means it
    compiles and every embedded test case passes, which activation requires.
    """

    agreement: CompiledAgreement | None
    problems: list[AgreementProblem]

    @property
    def valid(self) -> bool:
        """Compiles, and every embedded test case passes."""
        return self.agreement is not None and not self.problems


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an alias can multiply a small text into a huge document."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in an agreement", event.start_mark
            )
        return super().compose_node(parent, index)


def _node_positions(node: yaml.Node, path: tuple[str | int, ...], out: Positions) -> None:
    out[path] = node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _node_positions(value, (*path, str(key.value)), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_positions(item, (*path, index), out)


def _locate(positions: Positions, loc: tuple[str | int, ...]) -> tuple[int, int, str]:
    # pydantic adds union member names (e.g. "Comparison") to locations; keep only real keys.
    real = tuple(part for part in loc if _is_document_key(part))
    for end in range(len(real), -1, -1):
        node = positions.get(real[:end])
        if node is not None:
            return (
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                ".".join(map(str, real)) or "(document)",
            )
    return 1, 1, ".".join(map(str, real)) or "(document)"


def _is_document_key(part: str | int) -> bool:
    return isinstance(part, int) or not part[:1].isupper()


def load_agreement(path: Path) -> CompiledAgreement:
    """Read, validate and compile an agreement file; raise ``AgreementError`` naming file and line."""
    return parse_agreement(read_agreement_file(path), path)


def read_agreement_file(path: Path) -> str:
    """The text of an agreement file; ``AgreementError`` if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError(path, [AgreementProblem(1, 1, "(file)", str(exc), "file")]) from exc


def agreement_id_of(text: str, origin: str | Path) -> str:
    """The ``id`` an agreement text declares; ``AgreementError`` (with the line) if it cannot say."""
    header = read_header(text)
    if header is None:
        parse_agreement(text, origin)  # raises, naming the line
        raise AgreementError(origin, [AgreementProblem(1, 1, "id", "no agreement id and version")])
    return header[0]


def parse_agreement(text: str, origin: str | Path) -> CompiledAgreement:
    """Validate and compile agreement YAML; raise ``AgreementError`` naming ``origin`` and line."""
    agreement, _positions = _compile(text, origin)
    return agreement


def check_agreement(text: str, origin: str | Path, now: datetime | None = None) -> AgreementCheck:
    """Validate, compile and run the embedded test cases; never raises for a bad agreement."""
    try:
        agreement, positions = _compile(text, origin)
    except AgreementError as error:
        return AgreementCheck(None, error.problems)
    problems = []
    for index, result in enumerate(run_cases(agreement, now)):
        line, column, field = _locate(positions, ("tests", index))
        problems += [
            AgreementProblem(line, column, field, f"test case '{result.case}' failed: {problem}", "test-case")
            for problem in result.problems
        ]
    return AgreementCheck(agreement, problems)


def _yaml_problem(error: yaml.YAMLError, text: str) -> AgreementProblem:
    """Where YAML could not read the text: its mark (parser errors), or its character position
    (reader errors, such as a control character)."""
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    else:
        position = getattr(error, "position", 0) or 0
        line, column = text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)
    return AgreementProblem(line, column, "(yaml)", str(error), "yaml")


def read_header(text: str) -> tuple[str, int] | None:
    """The ``id`` and ``version`` an agreement text declares, if it parses far enough to say."""
    try:
        data = _NoAliasLoader(text).get_single_data()
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    identifier, version = data.get("id"), data.get("version")
    if isinstance(identifier, str) and isinstance(version, int) and not isinstance(version, bool):
        return identifier, version
    return None


def _compile(text: str, origin: str | Path) -> tuple[CompiledAgreement, Positions]:
    try:
        loader = _NoAliasLoader(text)  # reads the text: refuses control characters here already
    except yaml.YAMLError as exc:
        raise AgreementError(origin, [_yaml_problem(exc, text)]) from exc
    try:
        root = loader.get_single_node()
        data: Any = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise AgreementError(origin, [_yaml_problem(exc, text)]) from exc
    finally:
        loader.dispose()
    positions: Positions = {}
    if root is not None:
        _node_positions(root, (), positions)
    try:
        document = AgreementDocument.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            line, column, field = _locate(positions, tuple(error["loc"]))
            problems.append(AgreementProblem(line, column, field, error["msg"]))
        raise AgreementError(origin, _dedupe(problems)) from exc
    try:
        return compile_agreement(document), positions
    except RuleError as exc:
        line, column = _expression_position(positions, exc)
        where = ".".join(map(str, exc.path))
        problem = AgreementProblem(line, column, where, f"rule '{exc.rule}': {exc.error.message}", "rule")
        raise AgreementError(origin, [problem]) from exc


def _expression_position(positions: Positions, error: RuleError) -> tuple[int, int]:
    """File line and column of the offending character inside the expression's YAML scalar."""
    node = positions.get(error.path)
    if node is None:
        return 1, 1
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    style = getattr(node, "style", None)
    if style in ("|", ">"):  # block scalar: the text starts on the next line, indented
        return line + error.error.line, _indent_after(node) + error.error.column
    if style in ('"', "'"):
        column += 1  # the opening quote
    if error.error.line == 1:
        return line, column + error.error.column - 1
    return line + error.error.line - 1, error.error.column


def _indent_after(node: yaml.Node) -> int:
    text = node.start_mark.buffer or ""
    start = text.find("\n", node.start_mark.index) + 1
    stripped = text[start:].lstrip(" ")
    return len(text[start:]) - len(stripped)


def _dedupe(problems: list[AgreementProblem]) -> list[AgreementProblem]:
    seen: set[tuple[int, str, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.line, problem.field, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique
