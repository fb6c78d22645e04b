"""An aiosqlite connection that runs each call at once, on the calling thread.

aiosqlite hands every call to a worker thread and back; for the microsecond-scale statements of a
group commit those two thread switches cost more CPU than SQLite itself (measured: 251 -> 138 µs of
CPU per ingested lead). The writer process has nothing else to do while a statement runs, so it
uses this connection; the API process keeps the threaded one so HTTP never waits on SQLite.

It overrides aiosqlite's internal ``_execute``/``_connect`` (aiosqlite 0.20-0.22); the SQLite
integration tests run the writer process through it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


class InlineSQLiteConnection(aiosqlite.Connection):
    """aiosqlite's API without its thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def execute_now(self, sql: str) -> None:
        """Run ``sql`` (no parameters, no rows) synchronously: for ``BEGIN``, from SQLAlchemy's begin hook."""
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        self._connection.execute(sql)

    async def commit(self) -> None:
        """Commit in a worker thread: the fsync takes milliseconds, the event loop need not wait."""
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        await asyncio.to_thread(self._connection.commit)

    async def _connect(self) -> InlineSQLiteConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineSQLiteConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        """Close the SQLite connection (there is no thread to stop)."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inline_connector(path: str) -> Callable[[], InlineSQLiteConnection]:
    """An ``async_creator`` for SQLAlchemy that opens ``path`` inline."""

    def create() -> InlineSQLiteConnection:
        return InlineSQLiteConnection(
            partial(sqlite3.connect, path, check_same_thread=False, isolation_level=None)
        )

    return create
