"""The shape every background worker shares: one asyncio task, started and cancelled with the app."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod


class BackgroundWorker(ABC):
    """Runs ``_run`` as a named task; ``stop`` cancels it (work in an open transaction rolls back and
    is redone later, by this replica or another)."""

    task_name = "background-worker"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker's loop in the background."""
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel the loop and wait until it has ended."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @abstractmethod
    async def _run(self) -> None:
        """The worker's loop; runs until cancelled."""
