"""A real Prefect deployment on this machine: server on PostgreSQL, a process pool, workers.

Every process is started in its own session with default signal handling (a worker
that inherits an ignored SIGINT ignores TERM for minutes) and stopped by its PID (its
process group: a process worker's flow runs are its children), also when a step fails.
The database is created with a ``prefect_`` prefix and dropped at the end; the
temporary PREFECT_HOME is removed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reset_signals() -> None:  # runs in the child
    os.setsid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # die with the test process
    except Exception:
        pass


def _psql(sql: str) -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ],
        check=True,
        capture_output=True,
        text=True,
    )


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout_s: float = 20.0) -> None:
        """TERM the process group, then KILL it if it is still there."""
        pid = self.popen.pid
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # children of a process worker, if any left
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


@dataclass
class PrefectDeployment:
    """``prefect server start`` on PostgreSQL, a process work pool and ``workers`` workers."""

    workers: int = 2
    worker_limit: int = 2
    pool: str = "vendorgate-pool"
    extra_env: dict[str, str] = field(default_factory=dict)
    home: Path = field(init=False)
    database: str = field(init=False)
    port: int = field(init=False)
    procs: list[Proc] = field(default_factory=list, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VIRTUAL_ENV"))}
        env.update(
            {
                "PATH": f"{bin_dir}:{env.get('PATH', '')}",
                "PREFECT_HOME": str(self.home),
                "PREFECT_API_URL": self.api_url,
                "PREFECT_SERVER_API_HOST": "127.0.0.1",
                "PREFECT_SERVER_API_PORT": str(self.port),
                "PREFECT_API_DATABASE_CONNECTION_URL": (
                    f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.database}"
                ),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_UI_ENABLED": "false",
                "PREFECT_UI_ENABLED": "false",
                "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": (
                    "prefect.server.concurrency.lease_storage.filesystem"
                ),
                "PREFECT_LOCAL_STORAGE_PATH": str(self.home / "storage"),
                "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
                "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def _start(self, name: str, args: list[str]) -> Proc:
        log = self.home / f"{name}.log"
        fh = log.open("wb")
        popen = subprocess.Popen(
            args,
            env=self.env(),
            cwd=self.home,
            stdout=fh,
            stderr=subprocess.STDOUT,
            preexec_fn=_reset_signals,
        )
        fh.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def prefect(self, *args: str, check: bool = True, timeout_s: float = 180) -> str:
        """Run a ``prefect`` CLI command against this server; return its output."""
        done = subprocess.run(
            [str(Path(sys.executable).parent / "prefect"), *args],
            env=self.env(),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    def __enter__(self) -> PrefectDeployment:
        self._tmp = tempfile.TemporaryDirectory(prefix="prefect-deploy-")
        self.home = Path(self._tmp.name)
        self.port = _free_port()
        self.database = f"prefect_{uuid.uuid4().hex[:10]}"
        try:
            _psql(f'CREATE DATABASE "{self.database}"')
            self.extra_env.setdefault(
                "PREFECT_SERVER_ENCRYPTION_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode()
            )
            self._server = self._start(
                "server", [str(Path(sys.executable).parent / "prefect"), "server", "start"]
            )
            self._wait_healthy()
            self.prefect("work-pool", "create", self.pool, "--type", "process")
            for i in range(self.workers):
                self._start(
                    f"worker-{i}",
                    [
                        str(Path(sys.executable).parent / "prefect"),
                        "worker",
                        "start",
                        "--pool",
                        self.pool,
                        "--name",
                        f"worker-{i}",
                        "--limit",
                        str(self.worker_limit),
                    ],
                )
        except BaseException:
            self.close()
            raise
        return self

    def _wait_healthy(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._server.popen.poll() is not None:
                raise RuntimeError(f"prefect server exited:\n{self._server.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"prefect server not healthy:\n{self._server.log.read_text()}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30)

    def logs(self) -> str:
        """Every process's own log (print output of flows lands in the workers')."""
        return "\n".join(p.log.read_text(errors="replace") for p in self.procs if p.log.exists())

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        with contextlib.suppress(Exception):
            _psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __exit__(self, *exc: Any) -> None:
        self.close()
