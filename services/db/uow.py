"""The unit of work: the one place that begins, commits and rolls back transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.db.engine import WRITE_TRANSACTION


class UnitOfWork:
    """Hands out transactions; callers never call ``commit()`` themselves."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed when the block ends, rolled back on error.

        On SQLite the transaction takes the write lock when it begins; on PostgreSQL callers lock
        the rows they will change (``SELECT ... FOR UPDATE``). On PostgreSQL the transaction is begun
        on the server here: the asyncpg adapter would begin it only at the first statement sent
        through SQLAlchemy, and the ingest path's first statements go to the driver directly.
        """
        async with self.engine.connect() as connection:
            await connection.execution_options(**{WRITE_TRANSACTION: True})
            async with connection.begin():
                if connection.dialect.name == "postgresql":
                    await connection.exec_driver_sql("SELECT 1")  # BEGIN is sent before it
                yield connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only (its implicit transaction is rolled back)."""
        async with self.engine.connect() as connection:
            yield connection
