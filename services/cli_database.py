"""Command-line commands' access to the configured database (LEADROUTER_DATABASE_URL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from services.db.engine import create_engine
from services.db.uow import UnitOfWork
from services.errors import DomainError
from services.settings import Settings

T = TypeVar("T")


def run_on_database(work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``work`` with a unit of work on the configured database; the engine is closed after. A
    ``DomainError`` (such as a bad report window) is printed and ends the command with status 2."""

    async def main() -> T:
        engine = create_engine(Settings())
        try:
            return await work(UnitOfWork(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(2) from None
