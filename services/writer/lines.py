"""Line-oriented pipe I/O with few system calls: writes are coalesced per event-loop turn, reads
come in large chunks and are split into lines here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class CoalescingWriter:
    """Buffers lines written during one event-loop turn and sends them with one write."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._buffer: list[bytes] = []
        self._scheduled = False

    def write(self, line: bytes) -> None:
        """Queue ``line``; it is sent at the end of the current loop turn."""
        self._buffer.append(line)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Send everything queued now."""
        self._scheduled = False
        if self._buffer and not self._writer.is_closing():
            data = b"".join(self._buffer)
            self._buffer.clear()
            self._writer.write(data)


async def read_lines(reader: asyncio.StreamReader, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
    """The lines of ``reader`` until end of input (a final line without newline included)."""
    pending = b""
    while chunk := await reader.read(chunk_size):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line:
                yield line
    if pending:
        yield pending
