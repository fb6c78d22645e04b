"""Several service instances on one database: no update of a lead is lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import sqlalchemy as sa

from services.db.tables import leads
from services.db.uow import UnitOfWork
from services.settings import Settings
from tests.support.app import app_client
from tests.support.leads import lead_body


async def test_concurrent_activities_on_two_replicas_all_count(
    db_url: str, agreement_file: Path, uow: UnitOfWork
) -> None:
    settings = Settings(
        database_url=db_url, agreement_path=agreement_file, run_clock_worker=False, ingest_writer="in_process"
    )
    async with app_client(settings) as (first, _), app_client(settings) as (second, _):
        lead = (await first.post("/v1/leads", json=lead_body())).json()
        url = f"/v1/leads/{lead['lead_id']}/activities"
        replies = await asyncio.gather(
            *(
                (first if n % 2 else second).post(url, json={"type": "page_view", "event_id": f"view-{n}"})
                for n in range(60)
            )
        )
    assert {r.status_code for r in replies} == {202}
    async with uow.read() as conn:
        query = sa.select(leads.c.activity_counts).where(leads.c.id == uuid.UUID(lead["lead_id"]))
        counts = (await conn.execute(query)).scalar_one()
    assert counts == {"page_view": 60}
