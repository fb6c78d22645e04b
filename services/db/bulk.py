"""Bulk reads and writes for the ingest hot path, at driver level.

SQLAlchemy Core spends more CPU per statement and per row than the database spends on them (about
100 µs per ``execute`` on the ingest path); for the few tables every request touches, values are
encoded and decoded here once per column type, and statements go to the driver directly. Everything
else reads through SQLAlchemy, so the encodings must match its own: the integration tests read every
written row back through SQLAlchemy, and compare ``BulkSelect`` rows with SQLAlchemy's, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from services.db.engine import WRITE_TRANSACTION
from services.db.tables import UTCDateTime

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _sqlite_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _as_sqlalchemy_error(statement: str, error: Exception) -> sa.exc.DBAPIError:
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & {"IntegrityError", "IntegrityConstraintViolationError"}:
        return sa.exc.IntegrityError(statement, None, error)
    return sa.exc.DBAPIError(statement, None, error)


def _same(value: Any) -> Any:
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use timezone-aware UTC")
    return value


def column_encoder(column: sa.Column[Any], dialect: str) -> Encoder:
    """How values of ``column`` are sent to the driver of ``dialect`` (as SQLAlchemy would send them)."""
    kind = column.type
    if (
        isinstance(kind, sa.JSON)
        or isinstance(getattr(kind, "impl", None), sa.JSON)
        or hasattr(kind, "mapping")
    ):
        return _json
    if dialect == "sqlite":
        if isinstance(kind, sa.Uuid):
            return _sqlite_uuid
        if isinstance(kind, UTCDateTime):
            return _sqlite_datetime
        if isinstance(kind, sa.Boolean):
            return _sqlite_bool
        if isinstance(kind, sa.Date):
            return _sqlite_date
        return _same
    return _aware if isinstance(kind, UTCDateTime) else _same


async def _driver(conn: AsyncConnection) -> Any:
    """The driver connection of ``conn``'s transaction.

    Statements sent to it directly are part of the transaction only once the transaction has begun on
    the server; SQLAlchemy's asyncpg adapter begins lazily, so ``UnitOfWork.transaction`` begins it
    first. A write transaction that has not begun is refused rather than silently run in autocommit
    (a ``FOR UPDATE`` there would lock nothing and writes would not roll back).
    """
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        raw = sync.connection  # checked out already: no I/O, and no greenlet round trip per statement
    else:
        raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if (
        conn.dialect.name == "postgresql"
        and sync is not None
        and sync.get_execution_options().get(WRITE_TRANSACTION)
        and not driver.is_in_transaction()  # type: ignore[union-attr]
    ):
        raise RuntimeError("driver-level statement in a write transaction that has not begun on the server")
    return driver


UpdateKey = str | tuple[str, ...] | None  # the column(s) an UPDATE finds its row by; None: an INSERT


class BulkStatement:
    """``INSERT`` (or ``UPDATE ... WHERE key = ? [AND ...]``) of fixed columns, executed for many rows at
    once."""

    def __init__(
        self, table: sa.Table, columns: Sequence[str], dialect: str, update_key: UpdateKey = None
    ) -> None:
        keys = (update_key,) if isinstance(update_key, str) else update_key or ()
        self.columns = tuple(columns) + keys
        encoders = [column_encoder(table.c[name], dialect) for name in self.columns]
        self._values = operator.itemgetter(*self.columns)
        self._encoded = tuple((i, e) for i, e in enumerate(encoders) if e is not _same)
        # Timestamps repeat within a batch (one "now" per transaction): encode each distinct value once.
        self._memoised = frozenset(i for i, e in self._encoded if e is _sqlite_datetime)
        marks = [f"${n}" if dialect == "postgresql" else "?" for n in range(1, len(self.columns) + 1)]
        if not keys:
            self.sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(marks)})"  # noqa: S608 - names from our schema
        else:
            sets = ", ".join(f"{name} = {mark}" for name, mark in zip(columns, marks, strict=False))
            where = " AND ".join(
                f"{key} = {mark}" for key, mark in zip(keys, marks[len(columns) :], strict=True)
            )
            self.sql = f"UPDATE {table.name} SET {sets} WHERE {where}"  # noqa: S608 - names from our schema

    async def execute(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        """Write ``rows`` (dicts with at least the statement's columns) in one driver call."""
        if not rows:
            return
        memo: dict[Any, Any] = {}
        params = []
        for row in rows:
            values = list(self._values(row))
            for index, encode in self._encoded:
                value = values[index]
                if index in self._memoised and value is not None:
                    encoded = memo.get(value)
                    if encoded is None:
                        encoded = memo[value] = encode(value)
                    values[index] = encoded
                else:
                    values[index] = encode(value)
            params.append(tuple(values))
        # The driver's own executemany (aiosqlite and asyncpg share its signature) on the connection the
        # transaction runs on: one round trip, where SQLAlchemy's cursor protocol takes several.
        driver = await _driver(conn)
        try:
            await driver.executemany(self.sql, params)
        except Exception as error:  # driver errors, raised like SQLAlchemy's own so callers handle one family
            raise _as_sqlalchemy_error(self.sql, error) from error


def _decode_sqlite_uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(hex=value)


def _decode_sqlite_datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:  # stored as naive UTC: parsed with the offset, 5x faster than parse-then-replace
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # a value written with its own offset (raw SQL), as SQLAlchemy reads it
        return datetime.fromisoformat(value).astimezone(UTC)


def _decode_sqlite_json(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def _decode_sqlite_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _decode_pg_uuid(value: uuid.UUID | None) -> uuid.UUID | None:
    # asyncpg's own UUID type compares equal to uuid.UUID; give callers the standard one, as SQLAlchemy does.
    return None if value is None else uuid.UUID(bytes=value.bytes)


def _decode_pg_datetime(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _decode_sqlite_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _decoder(column: sa.Column[Any], dialect: str) -> Decoder:
    kind = column.type
    is_json = isinstance(kind, sa.JSON) or isinstance(getattr(kind, "impl", None), sa.JSON)
    if dialect == "sqlite":
        if is_json:
            return _decode_sqlite_json
        if isinstance(kind, sa.Uuid):
            return _decode_sqlite_uuid
        if isinstance(kind, UTCDateTime):
            return _decode_sqlite_datetime
        if isinstance(kind, sa.Boolean):
            return _decode_sqlite_bool
        if isinstance(kind, sa.Date):
            return _decode_sqlite_date
        return _same
    if isinstance(kind, sa.Uuid):
        return _decode_pg_uuid
    if isinstance(kind, UTCDateTime):
        return _decode_pg_datetime
    return _same  # JSON: SQLAlchemy's asyncpg codecs on the connection already decode it


CHUNK = 500  # keeps IN lists and executemany batches well under driver limits


def chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    """``items`` in slices of at most ``CHUNK``."""
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]


@functools.cache
def _in_marks(count: int) -> str:
    return ", ".join("?" * count)


async def fetch_driver(conn: AsyncConnection, sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
    """Run ``sql`` (the dialect's own placeholders) on the transaction's driver connection; all rows."""
    driver = await _driver(conn)
    try:
        if conn.dialect.name == "postgresql":
            rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *params)
        else:
            rows = await driver.execute_fetchall(sql, params)
    except Exception as error:  # driver errors, raised like SQLAlchemy's own so callers handle one family
        raise _as_sqlalchemy_error(sql, error) from error
    return rows


class RowDecoder:
    """Driver records holding ``columns`` of ``table`` (in that order) as dicts, their values decoded
    as SQLAlchemy decodes them."""

    def __init__(self, table: sa.Table, columns: Sequence[str], dialect: str) -> None:
        self._decoders = tuple((name, _decoder(table.c[name], dialect)) for name in columns)

    def __call__(self, records: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """The rows of ``records``."""
        decoders = self._decoders
        return [
            {name: decode(value) for (name, decode), value in zip(decoders, record, strict=True)}
            for record in records
        ]


class BulkSelect:
    """``SELECT columns FROM table WHERE eq = ? AND key IN (...)`` at driver level, rows as dicts.

    Values are decoded as SQLAlchemy decodes them. On SQLite the ``IN`` list is padded to a power of
    two (repeating its last value) so a handful of statements cover every length and stay prepared;
    on PostgreSQL it is one array parameter (``= ANY``). ``lock`` adds ``ORDER BY`` the primary key
    and ``FOR UPDATE`` on PostgreSQL (SQLite write transactions hold the database lock already).
    """

    def __init__(
        self,
        table: sa.Table,
        dialect: str,
        key: str,
        equal: Sequence[str] = (),
        *,
        lock: bool = False,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.columns = tuple(columns or (c.name for c in table.columns))
        self.dialect = dialect
        self._decode = RowDecoder(table, self.columns, dialect)
        self._encode_key = column_encoder(table.c[key], dialect)
        self._encode_equal = tuple(column_encoder(table.c[name], dialect) for name in equal)
        pg = dialect == "postgresql"
        conditions = [f"{name} = {f'${n}' if pg else '?'}" for n, name in enumerate(equal, start=1)]
        if pg:
            array_type = table.c[key].type.compile(postgresql.dialect())  # type: ignore[no-untyped-call]
            conditions.append(f"{key} = ANY(${len(equal) + 1}::{array_type}[])")
        else:
            conditions.append(f"{key} IN ({{marks}})")
        self._sql = f"SELECT {', '.join(self.columns)} FROM {table.name} WHERE {' AND '.join(conditions)}"  # noqa: S608 - names from our schema
        if lock:
            primary_key = ", ".join(c.name for c in table.primary_key.columns)
            self._sql += f" ORDER BY {primary_key}" + (" FOR UPDATE" if pg else "")

    async def fetch(self, conn: AsyncConnection, keys: Sequence[Any], *equal: Any) -> list[dict[str, Any]]:
        """Rows whose key is one of ``keys`` (and whose ``equal`` columns have these values)."""
        if not keys:
            return []
        head = [encode(value) for encode, value in zip(self._encode_equal, equal, strict=True)]
        encoded = [self._encode_key(key) for key in keys]
        if self.dialect == "postgresql":
            records = await fetch_driver(conn, self._sql, (*head, encoded))
        else:
            padded = 1 << (len(encoded) - 1).bit_length()
            encoded += [encoded[-1]] * (padded - len(encoded))
            sql = self._sql.replace("{marks}", _in_marks(padded))  # one of a few texts: prepared once
            records = await fetch_driver(conn, sql, (*head, *encoded))
        return self._decode(records)


class BulkStatements:
    """One ``BulkStatement`` per (table, columns, dialect), built on first use."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, tuple[str, ...], str, UpdateKey], BulkStatement] = {}

    def get(
        self, table: sa.Table, columns: Sequence[str], dialect: str, update_key: UpdateKey = None
    ) -> BulkStatement:
        """The statement writing ``columns`` of ``table`` on ``dialect``."""
        key = (table.name, tuple(columns), dialect, update_key)
        statement = self._cache.get(key)
        if statement is None:
            statement = self._cache[key] = BulkStatement(table, columns, dialect, update_key)
        return statement


STATEMENTS = BulkStatements()


def insert_columns(table: sa.Table) -> list[str]:
    """Every column except an autoincrementing integer primary key."""
    return [
        c.name
        for c in table.columns
        if not (c.primary_key and c.autoincrement is True and isinstance(c.type, sa.Integer | sa.BigInteger))
    ]
