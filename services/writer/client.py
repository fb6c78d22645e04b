"""The API process's side of the writer process: sends commands, matches replies, restarts it.

``ingest`` has the same contract as ``GroupCommitter.ingest``: it returns once the request is
committed, or raises a ``DomainError``. If the writer process dies, waiting requests get 503 (a
retry with the same idempotency key is safe) and a new writer is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections.abc import Callable

import structlog

from services.errors import DomainError
from services.ingest import Reply
from services.ingest_request import IngestRequest
from services.settings import Settings
from services.writer.lines import CoalescingWriter, read_lines
from services.writer.process import AGREEMENT_ENV, SETTINGS_ENV
from services.writer.wire import BatchReport, decode_message, encode_request

log = structlog.get_logger(__name__)

_START_TIMEOUT_SECONDS = 60.0
_RESTART_DELAY_SECONDS = 0.5


def writer_unavailable() -> DomainError:
    """The answer while no writer process is running: nothing was stored, retry."""
    return DomainError(
        503, "writer-unavailable", "Ingest writer unavailable",
        "the request was not acknowledged; retry with the same idempotency key", headers={"Retry-After": "1"},
    )  # fmt: skip


class WriterProcess:
    """A supervised ``services.writer.process`` child and the requests waiting on it."""

    def __init__(
        self, settings: Settings, agreement_id: str, on_report: Callable[[BatchReport], None]
    ) -> None:
        self._settings = settings
        self._agreement_id = agreement_id
        self._on_report = on_report
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = False
        self._stopping = False
        self._stdin: CoalescingWriter | None = None

    async def start(self) -> None:
        """Start the writer process and wait until it is ready."""
        await self._spawn()

    @property
    def pid(self) -> int | None:
        """The running writer process's id."""
        return self._process.pid if self._process is not None and self._ready else None

    async def stop(self) -> None:
        """Close the writer's input; it commits what it has, answers, and exits."""
        self._stopping = True
        self._ready = False
        process = self._process
        if process is None:
            return
        if self._stdin is not None:
            self._stdin.flush()
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            log.warning("writer.kill_after_timeout")
            process.kill()
            await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_pending()

    async def ingest(self, request: IngestRequest) -> Reply:
        """Send ``request`` to the writer and wait for its committed reply (or its problem)."""
        process = self._process
        if not self._ready or process is None or process.stdin is None:
            raise writer_unavailable()
        request_id = next(self._ids)
        line = encode_request(request_id, request)  # first: one that cannot be sent leaves nothing pending
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        assert self._stdin is not None
        self._stdin.write(line)
        return await future

    async def _spawn(self) -> None:
        env = {
            **os.environ,
            SETTINGS_ENV: self._settings.model_dump_json(exclude={"api_keys"}),
            AGREEMENT_ENV: self._agreement_id,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.writer.process",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            limit=2 * self._settings.max_body_bytes + 65_536,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            first = await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError("the writer process did not start in time") from None
        if not first or decode_message(first) is not None:
            await process.wait()
            raise RuntimeError(f"the writer process failed to start (exit code {process.returncode})")
        self._process = process
        assert process.stdin is not None
        self._stdin = CoalescingWriter(process.stdin)
        self._ready = True
        self._reader = asyncio.create_task(self._read(process), name="writer-replies")
        log.info("writer.started", pid=process.pid)

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in read_lines(process.stdout):
            message = decode_message(line)
            if isinstance(message, BatchReport):
                self._on_report(message)
            elif message is not None:
                request_id, outcome = message
                future = self._pending.pop(request_id, None)
                if future is None or future.done():
                    continue
                if isinstance(outcome, DomainError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        self._ready = False
        self._fail_pending()
        if not self._stopping:
            code = await process.wait()
            log.error("writer.exited", exit_code=code, restarting_in=_RESTART_DELAY_SECONDS)
            await asyncio.sleep(_RESTART_DELAY_SECONDS)
            await self._restart()

    async def _restart(self) -> None:
        while not self._stopping:
            try:
                await self._spawn()
            except Exception:  # keep answering 503 and try again
                log.exception("writer.restart_failed")
                await asyncio.sleep(_RESTART_DELAY_SECONDS)
            else:
                return

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(writer_unavailable())
