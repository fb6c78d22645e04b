"""YAML configuration documents validated by a pydantic model, every problem located by line.

Agreements and webhook source files are read this way: aliases are refused (a small text could
expand to a huge document), and each schema error names the file, line, column and field path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Positions = dict[tuple[str | int, ...], yaml.Node]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class DocumentProblem:
    """One thing wrong with a YAML document, located by line and field path."""

    line: int
    column: int
    field: str
    message: str
    code: str = "invalid"  # invalid (the document's schema) | yaml | rule | test-case | file


class DocumentError(ValueError):
    """A document that cannot be used; ``problems`` says where (in ``origin``) and why."""

    def __init__(self, origin: str | Path, problems: list[DocumentProblem]) -> None:
        self.origin = str(origin)
        self.problems = problems
        lines = [f"{origin}:{p.line}:{p.column}: {p.field}: {p.message}" for p in problems]
        super().__init__("\n".join(lines))


class NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an alias can multiply a small text into a huge document."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def read_document_file(path: Path) -> str:
    """The text of a YAML file; ``DocumentError`` if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(path, [DocumentProblem(1, 1, "(file)", str(exc), "file")]) from exc


def validate_document(text: str, origin: str | Path, model: type[M]) -> tuple[M, Positions]:
    """Parse YAML ``text`` and validate it as ``model``; ``DocumentError`` names each problem's line."""
    try:
        loader = NoAliasLoader(text)  # reads the text: refuses control characters here already
    except yaml.YAMLError as exc:
        raise DocumentError(origin, [_yaml_problem(exc, text)]) from exc
    try:
        root = loader.get_single_node()
        data: Any = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise DocumentError(origin, [_yaml_problem(exc, text)]) from exc
    finally:
        loader.dispose()
    positions: Positions = {}
    if root is not None:
        _node_positions(root, (), positions)
    try:
        return model.model_validate(data), positions
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            line, column, field = locate(positions, tuple(error["loc"]))
            problems.append(DocumentProblem(line, column, field, error["msg"]))
        raise DocumentError(origin, _dedupe(problems)) from exc


def locate(positions: Positions, loc: tuple[str | int, ...]) -> tuple[int, int, str]:
    """Line, column and dotted field path of the deepest node of ``loc`` the document has."""
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


def _node_positions(node: yaml.Node, path: tuple[str | int, ...], out: Positions) -> None:
    out[path] = node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _node_positions(value, (*path, str(key.value)), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_positions(item, (*path, index), out)


def _is_document_key(part: str | int) -> bool:
    return isinstance(part, int) or not part[:1].isupper()


def _yaml_problem(error: yaml.YAMLError, text: str) -> DocumentProblem:
    """Where YAML could not read the text: its mark (parser errors), or its character position
    (reader errors, such as a control character)."""
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    else:
        position = getattr(error, "position", 0) or 0
        line, column = text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)
    return DocumentProblem(line, column, "(yaml)", str(error), "yaml")


def _dedupe(problems: list[DocumentProblem]) -> list[DocumentProblem]:
    seen: set[tuple[int, str, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.line, problem.field, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique
