"""The writer process: runs the group commit of one API process, next to it on another core.

Started by ``WriterProcess`` as ``python -m services.writer.process`` with its settings in the
environment. It reads commands from stdin, answers each on stdout once its transaction committed, and
reports every batch for metrics. At end of input it commits what is queued and exits. The API
process stays responsive to HTTP while rules, SQL and commits run here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import BinaryIO

import orjson
import structlog
from sqlalchemy import make_url

from services.agreement_lifecycle import ActiveAgreement
from services.clock import utcnow
from services.db.checkpointer import BACKSTOP_PAGES, WalCheckpointer
from services.db.engine import create_engine
from services.db.uow import UnitOfWork
from services.errors import DomainError, internal_error
from services.group_commit import GroupCommitter
from services.heap import prepare_heap_for_serving
from services.ingest import BatchEffects, IngestBatch, Reply
from services.ingest_request import to_command
from services.logging import configure_logging
from services.settings import Settings
from services.writer.lines import CoalescingWriter, read_lines
from services.writer.wire import READY, BatchReport, decode_request, encode_reply, encode_report

SETTINGS_ENV = "LEADROUTER_WRITER_SETTINGS"
AGREEMENT_ENV = "LEADROUTER_WRITER_AGREEMENT_ID"  # the agreement whose active version the writer applies
log = structlog.get_logger(__name__)


async def _pipes(
    stdin: BinaryIO, stdout: BinaryIO, limit: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, stdout)
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)


class _Answer:
    """A ``Waiter`` that writes the reply line the moment the committer resolves it."""

    __slots__ = ("_answered", "_request_id", "_writer")

    def __init__(self, request_id: int, writer: CoalescingWriter) -> None:
        self._request_id = request_id
        self._writer = writer
        self._answered = False

    def done(self) -> bool:
        """Whether the reply was written."""
        return self._answered

    def set_result(self, result: Reply, /) -> None:
        """Write the committed reply."""
        self._answer(result)

    def set_exception(self, exception: BaseException, /) -> None:
        """Write the problem (a ``DomainError``, or a 500 for anything else)."""
        self._answer(exception)

    def _answer(self, outcome: Reply | BaseException) -> None:
        self._answered = True
        self._writer.write(encode_reply(self._request_id, outcome))


async def serve(settings: Settings, agreement_id: str, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer commands from ``stdin`` on ``stdout`` until end of input."""
    checkpointer = _checkpointer(settings)
    engine = create_engine(
        settings, inline_sqlite=True, wal_autocheckpoint=BACKSTOP_PAGES if checkpointer else None
    )
    reader, stream_writer = await _pipes(stdin, stdout, limit=2 * settings.max_body_bytes + 65_536)
    writer = CoalescingWriter(stream_writer)

    def on_commit(replies: list[Reply | DomainError], effects: BatchEffects, size: int) -> None:
        if checkpointer is not None:
            checkpointer.committed()
        writer.write(encode_report(BatchReport.of(replies, effects, size)))

    uow = UnitOfWork(engine, keep_connection=True)  # one task runs every transaction
    committer = GroupCommitter(
        uow,
        IngestBatch(ActiveAgreement(agreement_id), settings, utcnow),
        settings.group_commit_max_batch,
        on_commit,
    )
    await committer.start()
    prepare_heap_for_serving()
    writer.write(READY)
    try:
        async for line in read_lines(reader):
            try:
                request_id, request = decode_request(line)
            except Exception:  # a line the API process should never send
                log.exception("writer.bad_request_line")
                with contextlib.suppress(Exception):
                    writer.write(encode_reply(int(orjson.loads(line)["id"]), internal_error()))
                continue
            try:
                committer.enqueue_to(to_command(request), _Answer(request_id, writer))
            except DomainError as error:  # invalid body, or shutting down
                writer.write(encode_reply(request_id, error))
    finally:
        await committer.stop()  # commits and answers everything queued
        writer.flush()
        with contextlib.suppress(ConnectionError):
            await stream_writer.drain()
        stream_writer.close()
        await uow.close()
        await engine.dispose()
        if checkpointer is not None:
            checkpointer.stop()


def _checkpointer(settings: Settings) -> WalCheckpointer | None:
    """A started WAL checkpointer for a SQLite file database (None on PostgreSQL or in memory)."""
    path = make_url(settings.database_url).database if settings.is_sqlite else None
    if not path or path == ":memory:":
        return None
    checkpointer = WalCheckpointer(path)
    checkpointer.start()
    return checkpointer


def main() -> None:
    """Entry point of the writer process."""
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    agreement_id = os.environ[AGREEMENT_ENV]
    configure_logging(settings.log_level)
    # Ctrl-C and SIGTERM reach the whole process group; the API process decides when the writer
    # stops (end of input), so what is queued is still committed and answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The protocol owns the original stdout; anything printed by mistake goes to stderr instead.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        import uvloop  # noqa: PLC0415 - the loop uvicorn uses too (uvicorn[standard])
    except ImportError:
        asyncio.run(serve(settings, agreement_id, sys.stdin.buffer, protocol_out))
    else:
        uvloop.run(serve(settings, agreement_id, sys.stdin.buffer, protocol_out))


if __name__ == "__main__":
    main()
