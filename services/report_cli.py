"""``leadrouter report``: the SLA report as tables in the terminal (or its JSON)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from schemas.reports import GoalFigure, GroupBy, GroupFigures, SlaReport
from schemas.times import within_range
from services.agreement_lifecycle import ActiveAgreement
from services.agreements import agreement_id_of, load_agreement, read_agreement_file
from services.cli_database import run_on_database
from services.clock import utcnow
from services.db.uow import UnitOfWork
from services.reports import report_window, sla_report
from services.settings import Settings


def report_command(
    start: Annotated[
        datetime | None, typer.Option("--from", help="Start (UTC date or time); default: the goal period's")
    ] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="End, exclusive")] = None,
    group_by: Annotated[str | None, typer.Option(help="queue, rep, source or segment")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Both sides' KPIs over a window against the agreement's goals (the database of
    LEADROUTER_DATABASE_URL, under the agreement version active there)."""
    if group_by not in (None, "queue", "rep", "source", "segment"):
        raise typer.BadParameter("use queue, rep, source or segment", param_hint="--group-by")
    for hint, value in (("--from", start), ("--to", end)):
        if value is not None:
            try:
                within_range(value)
            except ValueError as error:
                raise typer.BadParameter(str(error), param_hint=hint) from None
    report = run_on_database(lambda uow: _report(uow, start, end, cast("GroupBy | None", group_by)))
    if as_json:
        typer.echo(report.model_dump_json(by_alias=True, indent=2))
        return
    print_report(report, Console())


async def _report(
    uow: UnitOfWork, start: datetime | None, end: datetime | None, group_by: GroupBy | None
) -> SlaReport:
    settings = Settings()
    async with uow.read() as conn:
        try:
            text = read_agreement_file(settings.agreement_path)
            agreement = await ActiveAgreement(agreement_id_of(text, settings.agreement_path)).current(conn)
        except RuntimeError:  # never served from this database: the file's version
            agreement = load_agreement(settings.agreement_path)
        goals = agreement.document.goals
        window = report_window(start, end, goals.period if goals else "month", utcnow())
        return await sla_report(conn, agreement, window, group_by)


def print_report(report: SlaReport, console: Console) -> None:
    """The report as rich tables: goals, then each side's figures with a column per group."""
    console.print(
        f"[bold]SLA report[/] {report.from_:%Y-%m-%d %H:%M} to {report.to:%Y-%m-%d %H:%M} UTC · "
        f"{report.agreement_version} · made {report.generated_at:%Y-%m-%d %H:%M}"
    )
    if report.goals is not None:
        goals = Table(title=f"Goals ({report.goals.period}ly, prorated to the window)")
        for column in ("goal", "target", "actual", "attainment", "at this pace", "status"):
            goals.add_column(column, justify="left" if column == "goal" else "right")
        rows: list[tuple[str, GoalFigure]] = []
        if report.goals.mqls is not None:
            rows.append(("MQLs", report.goals.mqls))
        rows += [(f"MQLs · {s.segment}", s) for s in report.goals.by_segment]
        for name, figure in rows:
            goals.add_row(
                name, f"{figure.target:g}", f"{figure.actual:g}", _pct(figure.attainment),
                _pct(figure.projected_attainment), figure.status,
            )  # fmt: skip
        for name, rate in (
            ("data completeness", report.goals.data_completeness),
            ("acceptance rate", report.goals.acceptance_rate),
            ("MQL → SQL", report.goals.mql_to_sql_rate),
        ):
            if rate is not None:
                goals.add_row(name, _pct(rate.target), _pct(rate.actual), "", "", rate.status)
        console.print(goals)
    table = Table(title="Figures" + (f" by {report.group_by}" if report.group_by else ""))
    table.add_column("figure")
    for group in report.groups:
        table.add_column(group.key, justify="right")
    for name, value in _FIGURES:
        table.add_row(name, *(value(group) for group in report.groups))
    console.print(table)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    hours, rest = divmod(int(value), 3600)
    return f"{hours}h{rest // 60:02d}m"


_FIGURES: list[tuple[str, Callable[[GroupFigures], str]]] = [
    ("leads", lambda g: str(g.marketing.leads)),
    ("MQLs", lambda g: str(g.marketing.mqls)),
    ("SQLs", lambda g: str(g.marketing.sqls)),
    ("handed off", lambda g: str(g.marketing.handed_off)),
    ("data completeness", lambda g: _pct(g.marketing.data_completeness)),
    ("rejection rate", lambda g: _pct(g.marketing.rejection_rate)),
    ("acceptance rate", lambda g: _pct(g.sales.acceptance_rate)),
    ("first touch p50", lambda g: _seconds(g.sales.time_to_first_touch.p50_seconds)),
    ("first touch p90", lambda g: _seconds(g.sales.time_to_first_touch.p90_seconds)),
    ("first touch met/breached", lambda g: _obligation(g, "first_touch")),
    ("attempts met/breached", lambda g: _obligation(g, "attempts")),
    ("decision met/breached", lambda g: _obligation(g, "decision")),
    ("MQL → SQL", lambda g: _pct(g.sales.mql_to_sql_rate)),
    ("SQL → opportunity", lambda g: _pct(g.sales.sql_to_opportunity_rate)),
    ("reassignments", lambda g: str(g.routing.reassignments)),
    ("unassigned wait p50", lambda g: _seconds(g.routing.unassigned.p50_seconds)),
]


def _obligation(group: GroupFigures, name: str) -> str:
    figures = group.sales.obligations.get(name)
    return "-" if figures is None else f"{figures.met}/{figures.breached} ({_pct(figures.met_rate)})"
