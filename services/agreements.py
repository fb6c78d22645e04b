"""Load an agreement file: YAML -> validated document -> compiled agreement, with file/line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.agreement import CompiledAgreement, RuleError, compile_agreement
from schemas.agreement import AgreementDocument


@dataclass(frozen=True)
class AgreementProblem:
    """One thing wrong with an agreement file, located by line and field path."""

    line: int
    column: int
    field: str
    message: str


class AgreementError(ValueError):
    """An agreement file that cannot be activated; ``problems`` says where and why."""

    def __init__(self, path: Path, problems: list[AgreementProblem]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}:{p.line}:{p.column}: {p.field}: {p.message}" for p in problems]
        super().__init__("\n".join(lines))


def _node_positions(
    node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], yaml.Node]
) -> None:
    out[path] = node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _node_positions(value, (*path, str(key.value)), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_positions(item, (*path, index), out)


def _locate(
    positions: dict[tuple[str | int, ...], yaml.Node], loc: tuple[str | int, ...]
) -> tuple[int, int, str]:
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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgreementError(path, [AgreementProblem(1, 1, "(file)", str(exc))]) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise AgreementError(path, [AgreementProblem(line, column, "(yaml)", str(exc))]) from exc
    positions: dict[tuple[str | int, ...], yaml.Node] = {}
    if root is not None:
        _node_positions(root, (), positions)
    try:
        document = AgreementDocument.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            line, column, field = _locate(positions, tuple(error["loc"]))
            problems.append(AgreementProblem(line, column, field, error["msg"]))
        raise AgreementError(path, _dedupe(problems)) from exc
    try:
        return compile_agreement(document)
    except RuleError as exc:
        line, column = _expression_position(positions, exc)
        where = ".".join(map(str, exc.path))
        problem = AgreementProblem(line, column, where, f"rule '{exc.rule}': {exc.error.message}")
        raise AgreementError(path, [problem]) from exc


def _expression_position(
    positions: dict[tuple[str | int, ...], yaml.Node], error: RuleError
) -> tuple[int, int]:
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
