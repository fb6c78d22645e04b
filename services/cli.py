"""The ``leadrouter`` command line."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from services.agreement_cli import agreement_app
from services.keys_cli import keys_app
from services.report_cli import report_command
from services.settings import Settings

app = typer.Typer(
    help="leadrouter: qualify and route leads by the marketing/sales agreement, and clock the SLA.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(agreement_app, name="agreement")
app.add_typer(keys_app, name="keys")
app.command("report")(report_command)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Upgrade the database (LEADROUTER_DATABASE_URL) to the latest schema. Safe to run repeatedly."""
    from services.migrate import upgrade  # noqa: PLC0415 - keeps `--help` fast

    settings = Settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {revision}: {_redact(settings.database_url)}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each with its own group commit)")
    ] = 1,
    relay: Annotated[bool, typer.Option(help="Run the outbox relay to Kafka in this service")] = True,
    clock_worker: Annotated[bool, typer.Option(help="Run the SLA clock worker in this service")] = True,
    assigner: Annotated[bool, typer.Option(help="Assign leads waiting in a queue from this service")] = True,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput)")] = False,
) -> None:
    """Serve the HTTP API with uvicorn (uvloop + httptools).

    Each worker process starts its own ingest writer process (rules, SQL and commits on another
    core; LEADROUTER_INGEST_WRITER=in_process keeps them in the worker). The outbox relay (when
    LEADROUTER_KAFKA_BOOTSTRAP_SERVERS is set), the SLA clock worker and the assigner of waiting
    leads run in each worker process unless disabled; all are safe to run in several replicas.
    """
    import uvicorn  # noqa: PLC0415

    os.environ["LEADROUTER_RUN_RELAY"] = "true" if relay else "false"
    os.environ["LEADROUTER_RUN_CLOCK_WORKER"] = "true" if clock_worker else "false"
    os.environ["LEADROUTER_RUN_ASSIGNMENT_WORKER"] = "true" if assigner else "false"
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="leadrouter-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    settings = Settings()  # fail fast on invalid configuration, before forking workers
    if settings.webhooks_path is not None:
        from services.webhooks.config import load_webhook_sources  # noqa: PLC0415
        from services.yaml_documents import DocumentError  # noqa: PLC0415

        try:
            load_webhook_sources(settings.webhooks_path)
        except DocumentError as error:
            typer.echo(f"invalid webhook sources file:\n{error}", err=True)
            raise typer.Exit(2) from None
    try:
        uvicorn.run(
            "services.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            access_log=access_log,
            timeout_graceful_shutdown=20,
            log_level="info",
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command("export-schemas")
def export_schemas(
    directory: Annotated[Path, typer.Argument(help="Where to write openapi.json and asyncapi.json")] = Path(
        "schemas"
    ),
) -> None:
    """Write the OpenAPI document of the HTTP API and the AsyncAPI document of the Kafka events."""
    from services.api.documents import interface_documents  # noqa: PLC0415 - keeps `--help` fast

    for name, text in interface_documents(Settings()).items():
        (directory / name).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {directory / name}")


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return scheme + sep + rest


def main() -> None:
    """Entry point."""
    app()


if __name__ == "__main__":
    main()
