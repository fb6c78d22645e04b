"""The writer process: crash recovery, and the in-process mode giving the same answers."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Literal

import httpx

from services.settings import Settings
from services.writer.client import WriterProcess
from tests.support.app import app_client, runtime_of
from tests.support.leads import qualified_lead_body


def _settings(db_url: str, agreement: Path, writer: Literal["process", "in_process"]) -> Settings:
    return Settings(
        database_url=db_url,
        agreement_path=agreement,
        run_clock_worker=False,
        ingest_writer=writer,
    )


async def _post_until_accepted(client: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    for _ in range(200):
        reply = await client.post("/v1/leads", json=body)
        if reply.status_code != 503:
            return reply
        assert reply.json()["type"].endswith("/writer-unavailable")  # said clearly, with Retry-After
        assert reply.headers["Retry-After"] == "1"
        await asyncio.sleep(0.05)
    raise AssertionError("the writer process did not come back")


async def test_a_killed_writer_is_replaced_and_nothing_acknowledged_is_lost(
    sqlite_url: str, agreement_file: Path
) -> None:
    async with app_client(_settings(sqlite_url, agreement_file, "process")) as (client, app):
        writer = runtime_of(app).committer
        assert isinstance(writer, WriterProcess)
        first_body = qualified_lead_body(event_id="before-crash")
        first = await client.post("/v1/leads", json=first_body)
        assert first.status_code == 201
        old_pid = writer.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        second = await _post_until_accepted(client, qualified_lead_body())
        assert second.status_code == 201, second.text
        assert writer.pid not in (None, old_pid)
        replay = await client.post("/v1/leads", json=first_body)
        detail = await client.get(f"/v1/leads/{first.json()['lead_id']}")
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert detail.status_code == 200


async def test_in_process_writer_gives_the_same_answers(db_url: str, agreement_file: Path) -> None:
    answers = {}
    modes: tuple[Literal["process", "in_process"], ...] = ("in_process", "process")
    for mode in modes:
        async with app_client(_settings(db_url, agreement_file, mode)) as (client, app):
            assert isinstance(runtime_of(app).committer, WriterProcess) is (mode == "process")
            replies = await asyncio.gather(
                *(client.post("/v1/leads", json=qualified_lead_body(country="BE")) for _ in range(6))
            )
            answers[mode] = sorted((r.status_code, r.json()["queue"], r.json()["stage"]) for r in replies)
            owners = sorted(r.json()["owner"] for r in replies)
        # six turns of a three-rep queue: each rep twice, in both modes (the rotation continues)
        assert owners == sorted(["rep-maria", "rep-tom", "rep-yuki"] * 2)
    assert answers["in_process"] == answers["process"]
