"""Read an agreement (a file or an API body): YAML -> validated document -> compiled agreement.

Every problem is located by line and column in the text it came from. ``check_agreement`` also runs
the embedded test cases: a version can only be activated when it compiles and its cases pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from router.agreement import CompiledAgreement, RuleError, compile_agreement
from router.cases import run_cases
from schemas.agreement import AgreementDocument
from services.yaml_documents import (
    DocumentError,
    DocumentProblem,
    NoAliasLoader,
    Positions,
    locate,
    read_document_file,
    validate_document,
)

AgreementProblem = DocumentProblem
AgreementError = DocumentError


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


def load_agreement(path: Path) -> CompiledAgreement:
    """Read, validate and compile an agreement file; raise ``AgreementError`` naming file and line."""
    return parse_agreement(read_agreement_file(path), path)


def read_agreement_file(path: Path) -> str:
    """The text of an agreement file; ``AgreementError`` if it cannot be read."""
    return read_document_file(path)


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
        line, column, field = locate(positions, ("tests", index))
        problems += [
            AgreementProblem(line, column, field, f"test case '{result.case}' failed: {problem}", "test-case")
            for problem in result.problems
        ]
    return AgreementCheck(agreement, problems)


def read_header(text: str) -> tuple[str, int] | None:
    """The ``id`` and ``version`` an agreement text declares, if it parses far enough to say."""
    try:
        data = NoAliasLoader(text).get_single_data()
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    identifier, version = data.get("id"), data.get("version")
    if isinstance(identifier, str) and isinstance(version, int) and not isinstance(version, bool):
        return identifier, version
    return None


def _compile(text: str, origin: str | Path) -> tuple[CompiledAgreement, Positions]:
    document, positions = validate_document(text, origin, AgreementDocument)
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
