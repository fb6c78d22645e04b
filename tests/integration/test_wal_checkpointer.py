"""The background WAL checkpointer of the writer process, on a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from services.db.checkpointer import BACKSTOP_PAGES, WalCheckpointer

COMMITS = 60
PAGES_PER_COMMIT = 40


def _writer(path: Path) -> sqlite3.Connection:
    """A connection set up like the writer process's: WAL, full sync, the raised backstop."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    connection.execute("CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    return connection


def _commit_blobs(connection: sqlite3.Connection, checkpointer: WalCheckpointer | None, wal: Path) -> int:
    """Commit ``COMMITS`` transactions of ~``PAGES_PER_COMMIT`` pages; the largest log size seen."""
    largest = 0
    for _ in range(COMMITS):
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO blobs (data) VALUES (?)", [(os.urandom(3000),) for _ in range(PAGES_PER_COMMIT)]
        )
        connection.execute("COMMIT")
        if checkpointer is not None:
            checkpointer.committed()
        largest = max(largest, wal.stat().st_size)
        time.sleep(0.005)
    return largest


def test_without_a_checkpointer_the_log_grows_with_every_commit(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    connection = _writer(path)
    largest = _commit_blobs(connection, None, Path(f"{path}-wal"))
    connection.close()
    assert largest >= COMMITS * PAGES_PER_COMMIT * 4096  # the premise of the next test


def test_the_checkpointer_keeps_the_log_small_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "checkpointed.db"
    connection = _writer(path)
    checkpointer = WalCheckpointer(str(path), pause_seconds=0.02)
    checkpointer.start()
    try:
        largest = _commit_blobs(connection, checkpointer, Path(f"{path}-wal"))
    finally:
        checkpointer.stop()
    assert checkpointer.checkpoints >= 3
    assert largest < COMMITS * PAGES_PER_COMMIT * 4096 / 2  # the log starts over after checkpoints
    # stop() ran a last checkpoint: every frame in the log is in the database file too
    busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, copied)
    connection.close()
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM blobs").fetchone() == (COMMITS * PAGES_PER_COMMIT,)
    reader.close()
