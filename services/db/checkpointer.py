"""SQLite WAL checkpoints in a background thread, off the commit path of the writer process.

By default SQLite checkpoints inside the ``COMMIT`` that pushes the write-ahead log past 1,000 pages:
that commit copies every page into the database file and syncs it, and the requests waiting on it
wait for all of that (measured: group commits of ~32 leads took 1.9 ms at the median and 7-11 ms
at p90, the checkpointing ones). Here a thread with its own connection runs ``PASSIVE`` checkpoints
shortly after commits instead. A passive checkpoint never blocks the writer; once the log is fully
copied the next write transaction starts it over from the beginning, so it stays small.

It checkpoints at most every 0.2 s (under load, ~20 group commits' pages at once, ~10 MB of log).
Every 20 ms, as before, measured ~6 % slower in ``bench/writer.py``: each checkpoint syncs the
database file (~2 ms here), and those syncs delay the commits' own log syncs on the same disk.

The writer's own connection keeps an automatic checkpoint as a backstop (``BACKSTOP_PAGES``), in
case this thread falls behind. Durability is unchanged: each commit still syncs the log, and a
checkpoint syncs the database file before the log is reused.
"""

from __future__ import annotations

import sqlite3
import threading

import structlog

log = structlog.get_logger(__name__)

BACKSTOP_PAGES = 10_000  # wal_autocheckpoint of the writer's connection while a checkpointer runs (~40 MB)


class WalCheckpointer:
    """Copies committed WAL frames into the SQLite database file, woken by ``committed()``."""

    def __init__(self, path: str, pause_seconds: float = 0.2, idle_seconds: float = 1.0) -> None:
        self._path = path
        self._pause_seconds = pause_seconds  # at most one checkpoint per pause
        self._idle_seconds = idle_seconds  # and one at least this often (a reader may have held it back)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        """Start the checkpoint thread."""
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Tell the thread a transaction committed (cheap; call after every commit)."""
        self._wake.set()

    def stop(self) -> None:
        """Run a last checkpoint and end the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout=10000")
            connection.execute("PRAGMA synchronous=FULL")
            while True:
                self._wake.wait(self._idle_seconds)
                self._wake.clear()
                self._checkpoint(connection)
                if self._stopping.is_set():
                    return
                self._stopping.wait(self._pause_seconds)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
        except sqlite3.Error:
            log.exception("wal_checkpoint.failed")
