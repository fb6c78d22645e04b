"""``leadrouter keys ...``: make, list and revoke API keys in the configured database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from services.api_keys import SCOPES, key_id_of, make_key
from services.cli_database import run_on_database
from services.clock import utcnow
from services.db import api_keys as key_repo
from services.db.uow import UnitOfWork

keys_app = typer.Typer(
    help="Make, list and revoke API keys (stored hashed in the database).", no_args_is_help=True
)
LOCAL_ADMIN_FILE = Path(".leadrouter-admin.key")
T = TypeVar("T")


async def _create(uow: UnitOfWork, name: str, scopes: list[str], rate_limit: int | None) -> tuple[str, str]:
    key, row = make_key(name, scopes, rate_limit, utcnow())
    async with uow.transaction() as conn:
        await key_repo.insert_key(conn, row)
    return key, row["scopes"]


@keys_app.command()
def create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'hubspot-webhooks'")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help=f"Repeat for each: {', '.join(SCOPES)} (admin: all)")
    ],
    rate_limit: Annotated[
        int | None,
        typer.Option(min=1, help="Requests per minute for this key (per process); none: unlimited"),
    ] = None,
) -> None:
    """Make a key and print it. It is shown only now: the database keeps its hash."""
    try:
        key, scopes = run_on_database(lambda uow: _create(uow, name, scope, rate_limit))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{key}\n(id {key_id_of(key)}, scopes: {scopes}; store it now: it cannot be shown again)")


@keys_app.command("list")
def list_keys() -> None:
    """Every key: id, name, scopes, rate limit, when made, and when revoked (never the key itself)."""
    rows = run_on_database(_list)
    if not rows:
        typer.echo("no API keys (the service is open: local use only)")
        return
    typer.echo(f"{'id':<12}  {'name':<24}  {'scopes':<28}  {'per min':>7}  {'created':<19}  revoked")
    for row in rows:
        revoked = row["revoked_at"].strftime("%Y-%m-%d %H:%M:%S") if row["revoked_at"] else "-"
        limit = row["rate_limit_per_minute"] or "-"
        created = row["created_at"].strftime("%Y-%m-%d %H:%M:%S")
        name, scopes = row["name"][:24], row["scopes"]
        typer.echo(f"{row['id']:<12}  {name:<24}  {scopes:<28}  {limit:>7}  {created:<19}  {revoked}")


async def _list(uow: UnitOfWork) -> list[dict[str, Any]]:
    async with uow.read() as conn:
        return await key_repo.list_keys(conn)


@keys_app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see 'leadrouter keys list')")]) -> None:
    """Revoke a key: running services refuse it within seconds."""

    async def work(uow: UnitOfWork) -> bool:
        async with uow.transaction() as conn:
            return await key_repo.revoke_key(conn, key_id, utcnow())

    if not run_on_database(work):
        typer.echo(f"error: no active key with id {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@keys_app.command("local-admin")
def local_admin(
    file: Annotated[Path, typer.Option(help="Where the local key is kept (mode 0600)")] = LOCAL_ADMIN_FILE,
) -> None:
    """For local use (``make run``): make an admin key once, keep it in FILE, and print it with a
    ready-to-paste curl command. Later runs print the same key while the database still has it."""

    async def work(uow: UnitOfWork) -> tuple[str, bool]:
        kept = file.read_text(encoding="utf-8").strip() if file.exists() else ""
        async with uow.read() as conn:
            active = {row["id"] for row in await key_repo.list_keys(conn, include_revoked=False)}
        if kept and key_id_of(kept) in active:
            return kept, False
        key, _ = await _create(uow, "local admin", ["admin"], None)
        file.touch(mode=0o600)
        os.chmod(file, 0o600)
        file.write_text(key + "\n", encoding="utf-8")
        return key, True

    key, made = run_on_database(work)
    typer.echo(f"{'Made a' if made else 'The'} local admin API key (kept in {file}):\n  {key}")
    typer.echo(f"Try it:\n  curl -s localhost:8000/v1/events -H 'Authorization: Bearer {key}'")
