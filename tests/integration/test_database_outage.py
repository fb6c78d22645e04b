"""PostgreSQL becomes unreachable under a running service, then comes back: ingest and reads answer
503 with Retry-After and store nothing meanwhile, and the service recovers without a restart.

The outage is real: the database stops accepting connections and every connection to it is
terminated (``ALTER DATABASE ... ALLOW_CONNECTIONS false`` + ``pg_terminate_backend``), which is what
the service sees when PostgreSQL restarts or fails over. (SQLite is a file in the service's own
process: it has no such outage.)
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from services.db.engine import create_engine
from services.db.tables import leads
from services.db.uow import UnitOfWork
from services.settings import Settings
from tests.support.app import app_client
from tests.support.components import PostgresCluster
from tests.support.leads import lead_body


def _outage(postgres: PostgresCluster, database: str, *, down: bool) -> None:
    postgres.psql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS {'false' if down else 'true'}")
    if not down:
        return
    connected = f"FROM pg_stat_activity WHERE datname = '{database}'"
    postgres.psql(f"SELECT pg_terminate_backend(pid) {connected}")
    deadline = time.monotonic() + 10
    while "(0 rows)" not in postgres.psql(f"SELECT pid {connected}"):  # termination is asynchronous
        assert time.monotonic() < deadline, "backends still connected"
        time.sleep(0.05)


async def test_an_outage_answers_503_stores_nothing_and_recovers_without_a_restart(
    pg_url: str, postgres: PostgresCluster, agreement_file: Path
) -> None:
    database = sa.engine.make_url(pg_url).database
    assert database is not None
    settings = Settings(
        database_url=pg_url,
        agreement_path=agreement_file,
        kafka_bootstrap_servers=None,
        run_clock_worker=False,
    )
    async with app_client(settings) as (client, _):
        before = await client.post("/v1/leads", json=lead_body())
        assert before.status_code == 201, before.text
        lead_id = before.json()["lead_id"]
        _outage(postgres, database, down=True)
        try:
            during = [
                await client.post("/v1/leads", json=lead_body(external_id="during-the-outage")),
                await client.get(f"/v1/leads/{lead_id}"),
                await client.get("/v1/events"),
            ]
            ready = await client.get("/readyz")
        finally:
            _outage(postgres, database, down=False)
        for response in during:
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "1"
            assert response.json()["type"].endswith("/database-unavailable")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] != "ok"
        # back: the same process serves again, and the request refused meanwhile can be sent again
        after = await client.post("/v1/leads", json=lead_body(external_id="during-the-outage"))
        assert after.status_code == 201, after.text
        assert (await client.get(f"/v1/leads/{lead_id}")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
    engine = create_engine(settings)
    async with UnitOfWork(engine).read() as conn:
        external_ids = sorted((await conn.execute(sa.select(leads.c.external_id))).scalars())
    await engine.dispose()
    assert len(external_ids) == 2  # the one before and the retried one: nothing half-written
    assert "during-the-outage" in external_ids
