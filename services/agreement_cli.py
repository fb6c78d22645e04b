"""``leadrouter agreement ...``: validate an agreement file, run its test cases, diff two versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from router.agreement import CompiledAgreement
from router.cases import run_cases
from router.diff import diff_documents
from services.agreements import AgreementError, load_agreement

agreement_app = typer.Typer(help="Check and compare agreement files.", no_args_is_help=True)
FileArgument = Annotated[Path, typer.Argument(help="Agreement YAML file", exists=False)]


def _load(path: Path) -> CompiledAgreement:
    try:
        return load_agreement(path)
    except AgreementError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None


@agreement_app.command()
def validate(file: FileArgument) -> None:
    """Check the document and compile every rule; errors name file:line:column. Exit 1 if invalid."""
    agreement = _load(file)
    document = agreement.document
    scoring = document.scoring
    typer.echo(
        f"{file}: valid agreement {agreement.version} ({document.status}): "
        f"{len(document.personas)} personas, "
        f"{len(scoring.fit)} fit rules, {len(scoring.engagement.rules)} engagement rules, "
        f"{len(scoring.disqualifiers)} disqualifiers, {len(document.queues)} queues, "
        f"{len(document.tests)} test cases"
    )


@agreement_app.command("test")
def test_cases(file: FileArgument) -> None:
    """Run the test cases embedded in the file; print a pass/fail table. Exit 1 if any fails."""
    agreement = _load(file)
    results = run_cases(agreement)
    if not results:
        typer.echo(f"{file}: no test cases (add some under 'tests:')")
        return
    width = max(len(r.case) for r in results)
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        typer.echo(
            f"{status}  {result.case:<{width}}  {', '.join(f'{k}={v}' for k, v in result.actual.items())}"
        )
        for problem in result.problems:
            typer.echo(f"      {problem}")
    failed = sum(not r.passed for r in results)
    typer.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


@agreement_app.command()
def diff(old: FileArgument, new: FileArgument) -> None:
    """What changed between two agreement files, by path (rules keyed by id). Exit 1 if they differ."""
    changes = diff_documents(_load(old).document, _load(new).document)
    for change in changes:
        if change.op == "-":
            typer.echo(f"- {change.path}: {_show(change.before)}")
        elif change.op == "+":
            typer.echo(f"+ {change.path}: {_show(change.after)}")
        else:
            typer.echo(f"~ {change.path}: {_show(change.before)} -> {_show(change.after)}")
    typer.echo(f"{len(changes)} change(s)")
    if changes:
        raise typer.Exit(1)


def _show(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
