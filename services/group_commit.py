"""Group commit: many concurrent requests share one transaction, each answered only after the commit.

Requests queue up while the previous transaction commits; the writer takes everything waiting (up to a
cap) as the next batch. If a batch fails as a whole, each request is retried alone so one bad
request cannot fail its neighbours. Between batches the writer gives the event loop one turn, so the
answers of a committed batch go out before the next batch's work starts (without it, a closed-loop
client population waits a whole extra batch for its replies).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.db.uow import UnitOfWork
from services.errors import DomainError
from services.ingest import BatchEffects, Command, IngestBatch, Reply
from services.ingest_request import IngestRequest, to_command

log = structlog.get_logger(__name__)


class Waiter(Protocol):
    """What a queued command's outcome is delivered to: an ``asyncio.Future`` or anything shaped like one."""

    def done(self) -> bool: ...
    def set_result(self, result: Reply, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...


_Item = tuple[Command, Waiter]


class CommitListener(Protocol):
    """Told about every committed batch (metrics, waking the relay)."""

    def __call__(self, replies: list[Reply | DomainError], effects: BatchEffects, size: int) -> None: ...


def database_unavailable(error: BaseException) -> DomainError:
    """The answer when the database cannot be reached: retry later, nothing was stored."""
    return DomainError(
        503, "database-unavailable", "Database unavailable",
        "the request was not stored; retry later", headers={"Retry-After": "1"},
    )  # fmt: skip


class GroupCommitter:
    """Runs ingest commands in shared transactions; ``submit`` returns once its command is durable."""

    def __init__(
        self, uow: UnitOfWork, batch: IngestBatch, max_batch: int, on_commit: CommitListener | None = None
    ) -> None:
        self._uow = uow
        self._batch = batch
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        """Start the writer task on the running loop."""
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Stop taking commands, commit what is queued, then end the writer."""
        self._closing = True
        await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ingest(self, request: IngestRequest) -> Reply:
        """Validate ``request`` here and commit it (the ``Committer`` of ``in_process`` mode)."""
        return await self.submit(to_command(request))

    async def submit(self, command: Command) -> Reply:
        """Queue ``command`` and wait for its committed reply (or its ``DomainError``)."""
        # A caller that goes away cancels only its wait: the queued command is still committed.
        return await self.enqueue(command)

    def enqueue(self, command: Command) -> asyncio.Future[Reply]:
        """Queue ``command``; the future resolves once it is committed (or fails with a ``DomainError``)."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.enqueue_to(command, future)
        return future

    def enqueue_to(self, command: Command, waiter: Waiter) -> None:
        """Queue ``command``; ``waiter`` gets its reply (or ``DomainError``) once it is committed."""
        if self._closing or self._task is None:
            raise DomainError(
                503, "shutting-down", "Service shutting down", "retry on another replica",
                headers={"Retry-After": "1"},
            )  # fmt: skip
        self._queue.put_nowait((command, waiter))

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < self._max_batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await self._commit(items)
            finally:
                for _ in items:
                    self._queue.task_done()
            await asyncio.sleep(0)  # one loop turn: the batch's answers go out before the next batch

    async def _commit(self, items: list[_Item], attempts: int = 2) -> None:
        commands = [command for command, _ in items]
        try:
            async with self._uow.transaction() as conn:
                replies, effects = await self._batch.apply(conn, commands)
        except (DBAPIError, OSError) as error:
            if len(items) > 1:
                log.warning("group_commit.batch_failed", size=len(items), error=type(error).__name__)
                for item in items:
                    await self._commit([item])
            elif isinstance(error, IntegrityError) and attempts > 1:
                # Another replica inserted the same lead or event first: re-read and apply again.
                await self._commit(items, attempts - 1)
            else:
                log.exception("group_commit.failed", error=type(error).__name__)
                _resolve(items, [database_unavailable(error)])
            return
        except Exception as error:  # a bug: answer 500 rather than hang the callers
            log.exception("group_commit.unexpected_error")
            if len(items) > 1:
                for item in items:
                    await self._commit([item])
                return
            _resolve(items, [error])
            return
        if self._on_commit is not None:
            self._on_commit(replies, effects, len(items))
        _resolve(items, replies)


def _resolve(items: list[_Item], outcomes: Sequence[Reply | BaseException]) -> None:
    for index, (_, waiter) in enumerate(items):
        if waiter.done():  # a cancelled wait: the command was committed all the same
            continue
        outcome = outcomes[index] if len(outcomes) == len(items) else outcomes[0]
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


__all__ = ["CommitListener", "GroupCommitter", "Waiter", "database_unavailable"]
