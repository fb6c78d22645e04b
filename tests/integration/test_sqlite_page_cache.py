"""SQLite page caches: small per API-process connection (settable), 64 MiB for the writer's one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.db.engine import WRITER_CACHE_MIB, create_engine
from services.settings import Settings


async def _cache_kib(engine: AsyncEngine) -> int:
    try:
        async with engine.connect() as conn:
            value = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar_one()
    finally:
        await engine.dispose()
    return -int(value)  # a negative cache_size is in KiB


async def test_api_connections_take_the_setting_and_the_writer_keeps_64_mib(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}"
    assert await _cache_kib(create_engine(Settings(database_url=url))) == 8 * 1024  # the default
    assert await _cache_kib(create_engine(Settings(database_url=url, sqlite_cache_mib=3))) == 3 * 1024
    writer = create_engine(Settings(database_url=url, sqlite_cache_mib=3), inline_sqlite=True)
    assert await _cache_kib(writer) == WRITER_CACHE_MIB * 1024 == 65536
