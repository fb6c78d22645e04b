"""Time-ordered identifiers (UUID version 7, RFC 9562).

New rows get ids that sort by creation time, so primary keys and the (lead_id, ...) indexes grow at
their right edge instead of touching a random B-tree page per insert: a group commit of 30 leads
dirties a handful of index pages rather than hundreds.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_RANDOM_BYTES_PER_ID = 10
_POOL_SIZE = 4096 * _RANDOM_BYTES_PER_ID


class _RandomPool:
    """Random bytes from the OS, fetched 40 KiB at a time: one ``getrandom`` call per 4,096 ids
    instead of one per id (each call also gives up the GIL, and the writer process's other threads
    may keep it for a while)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the bytes fetched so far (a forked child must not hand out its parent's)."""
        self._pool = b""
        self._offset = 0

    def take(self) -> int:
        """80 random bits as an integer."""
        with self._lock:
            if self._offset >= len(self._pool):
                self._pool, self._offset = os.urandom(_POOL_SIZE), 0
            start = self._offset
            self._offset = start + _RANDOM_BYTES_PER_ID
            return int.from_bytes(self._pool[start : start + _RANDOM_BYTES_PER_ID], "big")


_random = _RandomPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_random.reset)


def uuid7() -> uuid.UUID:
    """A random UUID whose first 48 bits are the Unix time in milliseconds."""
    millis = time.time_ns() // 1_000_000
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | _random.take()
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return uuid.UUID(int=value)
