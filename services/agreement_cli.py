"""``leadrouter agreement ...``: validate an agreement file, run its test cases, diff two versions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from router.agreement import CompiledAgreement
from router.cases import run_cases
from router.diff import diff_documents
from schemas.simulation import Simulation
from services.agreements import AgreementError, load_agreement
from services.cli_database import run_on_database
from services.clock import utcnow
from services.db.uow import UnitOfWork
from services.reports import report_window
from services.simulation import simulate as simulate_window

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


@agreement_app.command()
def simulate(
    file: FileArgument,
    start: Annotated[
        datetime | None, typer.Option("--from", help="Start (UTC); default: the goal period's")
    ] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="End, exclusive (UTC)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON")] = False,
) -> None:
    """Replay the stored lead events of a window (LEADROUTER_DATABASE_URL) under FILE and compare with
    what happened. Nothing is written and no event is published."""
    candidate = _load(file)
    result = run_on_database(lambda uow: _simulate(uow, candidate, start, end))
    if as_json:
        typer.echo(result.model_dump_json(by_alias=True, indent=2))
        return
    console = Console()
    console.print(
        f"[bold]What if {result.candidate_version}[/] over {result.from_:%Y-%m-%d %H:%M} to "
        f"{result.to:%Y-%m-%d %H:%M} UTC: {result.leads_replayed:,} leads, "
        f"{result.events_replayed:,} events replayed"
    )
    volumes = Table(title="Volume")
    for column in ("", "actual", "candidate", "change"):
        volumes.add_column(column, justify="right" if column else "left")
    rows = [("MQLs", result.mqls), ("SQLs", result.sqls)]
    rows += [(f"MQLs · {s.segment}", s) for s in result.mqls_by_segment]
    rows += [(f"handoffs · {q.queue}", q) for q in result.handoffs_by_queue]
    for name, volume in rows:
        volumes.add_row(
            name, str(volume.actual), str(volume.candidate), f"{volume.candidate - volume.actual:+d}"
        )
    console.print(volumes)
    over = [load for load in result.rep_load if load.over_capacity]
    for load in over:
        console.print(
            f"[red]over capacity[/]: {load.rep_id} in {load.queue}: {load.projected:g} > {load.capacity}"
        )
    console.print(
        f"{result.stage_changed} leads would end in another stage, {result.queue_changed} in another queue"
    )
    for example in result.examples:
        console.print(
            f"  {example.lead_id}: {example.actual_stage} -> {example.candidate_stage}, "
            f"{example.actual_queue or '-'} -> {example.candidate_queue or '-'}"
        )


async def _simulate(
    uow: UnitOfWork, candidate: CompiledAgreement, start: datetime | None, end: datetime | None
) -> Simulation:
    async with uow.read() as conn:
        goals = candidate.document.goals
        window = report_window(start, end, goals.period if goals else "month", utcnow())
        return await simulate_window(conn, candidate, window)
