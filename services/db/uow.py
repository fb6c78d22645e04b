"""The unit of work: the one place that begins, commits and rolls back transactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.db.engine import WRITE_TRANSACTION


class UnitOfWork:
    """Hands out transactions; callers never call ``commit()`` themselves.

    ``keep_connection``: run every transaction on one connection held from the first transaction
    until ``close()``, instead of checking one out of the pool each time. For a single task that runs
    transactions one after another, like the writer process's group commit: a checkout, its return
    and the pool's reset cost ~0.1-0.2 ms of CPU per transaction there. A connection that failed
    (any error out of a transaction) is closed and replaced by the next transaction.
    """

    def __init__(self, engine: AsyncEngine, *, keep_connection: bool = False) -> None:
        self.engine = engine
        self._keep_connection = keep_connection
        self._kept: AsyncConnection | None = None
        self._kept_in_use = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed when the block ends, rolled back on error.

        On SQLite the transaction takes the write lock when it begins; on PostgreSQL callers lock
        the rows they will change (``SELECT ... FOR UPDATE``). On PostgreSQL the transaction is begun
        on the server here: the asyncpg adapter would begin it only at the first statement sent
        through SQLAlchemy, and the ingest path's first statements go to the driver directly.
        """
        if self._keep_connection:
            async with self._kept_transaction() as connection:
                yield connection
            return
        async with self.engine.connect() as connection:
            await connection.execution_options(**{WRITE_TRANSACTION: True})
            async with _begun(connection):
                yield connection

    @asynccontextmanager
    async def _kept_transaction(self) -> AsyncIterator[AsyncConnection]:
        if self._kept_in_use:
            raise RuntimeError("a kept connection runs one transaction at a time")
        self._kept_in_use = True
        try:
            if self._kept is None:
                connection = await self.engine.connect()
                try:
                    await connection.execution_options(**{WRITE_TRANSACTION: True})
                except BaseException:
                    await connection.close()
                    raise
                self._kept = connection
            try:
                async with _begun(self._kept) as connection:
                    yield connection
            except BaseException:
                await self._discard()  # whatever state it is in, the next transaction starts afresh
                raise
        finally:
            self._kept_in_use = False

    async def close(self) -> None:
        """Return the kept connection (if any) to the pool."""
        kept, self._kept = self._kept, None
        if kept is not None:
            await kept.close()

    async def _discard(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close too
                await kept.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only (its implicit transaction is rolled back)."""
        async with self.engine.connect() as connection:
            yield connection


@asynccontextmanager
async def _begun(connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    async with connection.begin():
        if connection.dialect.name == "postgresql":
            await connection.exec_driver_sql("SELECT 1")  # BEGIN is sent before it
        yield connection
