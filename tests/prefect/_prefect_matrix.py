"""One fault-matrix scenario run through the Prefect tasks (imported by name, as pytest puts
this directory on sys.path): its sandbox client and blocks, its flow runs, its outcome,
and the leak scan of everything Prefect kept of it.

The scan reads back what a user of the Prefect server can see: every log line of the
scenario's flow runs (``/logs/filter``), their artifacts, the flow and task runs (state
messages carry exception text), the events that name them, every block document as the
API shows it, and on disk the persisted results (base64, wrapped at 76 columns), the
outputs and checkpoints, the child processes' own logs; plus the test process's log
records and every exception raised.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from vendorgate import Secret
from vendorgate.testing import LeakScanner

if TYPE_CHECKING:
    import httpx
    import pytest
    from prefect.client.schemas.objects import State

    from vendorgate.prefect import VaultConnection, VendorApi
    from vendorgate.testing import VendorSandbox

PRESET = "oauth2-basic"
VENDOR = "oauth2"
PAGES = {"type": "page_number", "page_size": 100, "records_path": "items"}


def prefect_api() -> httpx.Client:
    """The Prefect REST API, as any user of the server reads it."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    return httpx.Client(base_url=str(PREFECT_API_URL.value()), timeout=30)


def free_port() -> int:
    """A TCP port nothing listens on (bound once, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_ids(path: Path) -> list[int]:
    """The record ids of a JSON Lines output, in file order."""
    import json

    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


class PrefectRun:
    """One scenario through the Prefect tasks: blocks, flow runs, outcome, leak scan."""

    def __init__(self, sandbox: VendorSandbox, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.client_id = f"pfrel-{uuid.uuid4().hex[:10]}"
        self.client_secret = Secret(f"pfrel-secret-{uuid.uuid4().hex}")
        sandbox.add_client(PRESET, self.client_id, client_secret=self.client_secret)
        self.scanner = LeakScanner(secrets={"client_secret": self.client_secret})
        self.token_path = urlparse(sandbox.token_url(PRESET)).path
        self.api_path = urlparse(sandbox.api_url(PRESET)).path + "/*"
        self.output = tmp_path / "items.jsonl"
        self.results = tmp_path / "results"
        self.measured = ""
        self.errors: list[BaseException] = []
        self.flow_run_ids: list[str] = []
        self.block_names: list[str] = []
        self._storage: str | None = None
        self._since = time.time() - 5
        self._t0 = time.monotonic()
        self._clock_started = False

    # -- blocks -----------------------------------------------------------------------
    def api(
        self,
        *,
        vault: VaultConnection | None = None,
        client_secret_ref: str | None = None,
        **changes: Any,
    ) -> VendorApi:
        """A VendorApi block for this scenario's own client (its own cache document and
        concurrency limit): retries 6 within 30 s, read timeout 5 s."""
        from pydantic import SecretStr

        from vendorgate.prefect import VendorApi, VendorCredentials

        credentials = VendorCredentials(
            preset=PRESET,
            client_id=self.client_id,
            token_url=self.sandbox.token_url(PRESET),
            client_secret=None if client_secret_ref else SecretStr(self.client_secret.reveal()),
            client_secret_ref=client_secret_ref,
            vault=vault,
        )
        settings: dict[str, Any] = {"retry_attempts": 6, "retry_timeout_s": 30, "timeout_s": 5}
        settings.update(changes)
        return VendorApi(credentials=credentials, base_url=self.sandbox.api_url(PRESET), **settings)

    def save(self, api: VendorApi) -> str:
        """Save the block (workers in other processes load it by name); return its name."""
        name = f"pfrel-{uuid.uuid4().hex[:10]}"
        api.save(name)
        self.block_names.append(name)
        return name

    def cache_key(self, api: VendorApi) -> str:
        from vendorgate.prefect._connection import token_config

        return token_config(api.credentials).cache_key

    # -- flow runs --------------------------------------------------------------------
    def result_storage(self) -> str:
        """A saved LocalFileSystem block on ``results/`` (Prefect wants it saved)."""
        from prefect.filesystems import LocalFileSystem

        if self._storage is None:
            self._storage = f"pfrel-results-{uuid.uuid4().hex[:10]}"
            LocalFileSystem(basepath=str(self.results)).save(self._storage)
        return f"local-file-system/{self._storage}"

    def run_flow(self, flow_fn: Any) -> State[Any]:
        """Run a flow in this process; keep its run id (for the scan) and its exception.

        The scenario's clock starts at its first flow run (imports and setup do not count).
        """
        if not self._clock_started:
            self.restart_clock()
        state: State[Any] = flow_fn(return_state=True)
        self.flow_run_ids.append(str(state.state_details.flow_run_id))
        if not state.is_completed():
            exc = state.result(raise_on_failure=False)
            if isinstance(exc, BaseException):
                self.errors.append(exc)
        return state

    def extract_flow(
        self,
        api: VendorApi | str,
        *,
        retries: int = 0,
        output: Path | None = None,
        name: str = "extract",
    ) -> Any:
        """A flow whose one task is ``extract_vendor_data`` of ``/items`` to ``output``.

        ``retries`` > 0 opts in to task retries with :func:`retry_on_vendor_failure` (no
        delay). The flow's result (the task's counts) is persisted under ``results/``.
        """
        from prefect import flow

        from vendorgate.prefect import extract_vendor_data, retry_on_vendor_failure

        task = extract_vendor_data
        if retries:
            task = task.with_options(
                retries=retries, retry_delay_seconds=0, retry_condition_fn=retry_on_vendor_failure
            )
        target = output or self.output
        size = self.sandbox.dataset_size

        @flow(name=f"matrix-{name}", persist_result=True, result_storage=self.result_storage())
        def matrix_extract() -> Any:
            return task(api, "/items", output=target, paginator=PAGES, expected_records=size)

        return matrix_extract

    def call_flow(
        self, api: VendorApi | str, *, retries: int = 0, output: Path | None = None
    ) -> Any:
        """A flow whose one task is ``call_vendor_api`` (GET /items page 1 to ``output``)."""
        from prefect import flow

        from vendorgate.prefect import call_vendor_api, retry_on_vendor_failure

        task = call_vendor_api
        if retries:
            task = task.with_options(
                retries=retries, retry_delay_seconds=0, retry_condition_fn=retry_on_vendor_failure
            )
        target = output or self.tmp_path / "page1.json"

        @flow(name="matrix-call", persist_result=True, result_storage=self.result_storage())
        def matrix_call() -> Any:
            return task(api, "GET", "/items", params={"page": 1}, output=target)

        return matrix_call

    def task_runs(self, flow_run_id: str | None = None) -> list[dict[str, Any]]:
        """The task runs of a flow run (default: the last), as the API shows them."""
        run_id = flow_run_id or self.flow_run_ids[-1]
        with prefect_api() as api:
            runs: list[dict[str, Any]] = api.post(
                "/task_runs/filter", json={"flow_runs": {"id": {"any_": [run_id]}}}
            ).json()
        return runs

    def task_attempts(self, flow_run_id: str | None = None) -> int:
        """How many times the flow run's (one) task ran: 1 + the retries Prefect made."""
        return sum(int(r["run_count"]) for r in self.task_runs(flow_run_id))

    def flow_logs(self, flow_run_id: str | None = None) -> str:
        """Every log line of a flow run (default: the last) read back through the API."""
        return "\n".join(self._logs(flow_run_id or self.flow_run_ids[-1]))

    def _logs(self, flow_run_id: str) -> list[str]:
        _flush_api_logs()
        lines: list[str] = []
        with prefect_api() as api:
            while True:
                page = api.post(
                    "/logs/filter",
                    json={
                        "logs": {"flow_run_id": {"any_": [flow_run_id]}},
                        "limit": 200,
                        "offset": len(lines),
                    },
                ).json()
                lines += [entry["message"] for entry in page]
                if len(page) < 200:
                    return lines

    # -- counters and outcome ---------------------------------------------------------
    def tokens_requested(self) -> int:
        """Token requests of this scenario's client that reached the sandbox."""
        return self.sandbox.counters().tokens(vendor=VENDOR, client_id=self.client_id)

    def elapsed_s(self) -> float:
        return time.monotonic() - self._t0

    def restart_clock(self) -> None:
        self._t0 = time.monotonic()
        self._clock_started = True

    def succeeded(self, records: int, note: str = "") -> None:
        """Record a success: records, token requests, task attempts, seconds."""
        extra = f"; {note}" if note else ""
        self.measured = (
            f"Completed: {records} records, {self.tokens_requested()} token request(s), "
            f"{self.task_attempts()} task attempt(s), {self.elapsed_s():.1f} s{extra}"
        )

    def failed_with(self, state: State[Any], note: str = "") -> BaseException:
        """Record a failed flow run: the task's error, its attempts, the seconds taken."""
        exc = state.result(raise_on_failure=False)
        assert isinstance(exc, BaseException), f"{state.type}: no exception"
        if exc not in self.errors:
            self.errors.append(exc)
        extra = f"; {note}" if note else ""
        self.measured = (
            f"{state.name}: {type(exc).__name__} after {self.task_attempts()} task "
            f"attempt(s), {self.elapsed_s():.1f} s{extra}"
        )
        return exc

    # -- leak scan --------------------------------------------------------------------
    def scan(self, caplog: pytest.LogCaptureFixture) -> LeakScanner:
        """Scan everything the scenario left, in Prefect and on disk; return the scanner."""
        scanner = self.scanner
        scanner.add(tokens=self.sandbox.issued_tokens(PRESET, self.client_id))
        with prefect_api() as api:
            for run_id in self.flow_run_ids:
                scanner.scan_text("\n".join(self._logs(run_id)), f"prefect logs of {run_id}")
                artifacts = api.post(
                    "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}
                ).json()
                scanner.scan_mapping(artifacts, f"artifacts of {run_id}")
                scanner.scan_mapping(api.get(f"/flow_runs/{run_id}").json(), f"flow run {run_id}")
                scanner.scan_mapping(self.task_runs(run_id), f"task runs of {run_id}")
            # every event since the scenario began (events keep copies of block documents,
            # artifacts and state messages)
            page = api.post(
                "/events/filter",
                json={"filter": {"occurred": {"since": _iso(self._since)}}, "limit": 200},
            ).json()
            for number in range(50):
                scanner.scan_mapping(page.get("events", []), f"events page {number}")
                if not page.get("next_page"):
                    break
                page = api.get(page["next_page"]).json()
            # every block document as the API shows it (credentials, the token cache entry)
            documents: list[Any] = []
            while True:
                batch = api.post(
                    "/block_documents/filter", json={"limit": 200, "offset": len(documents)}
                ).json()
                documents += batch
                if len(batch) < 200:
                    break
            scanner.scan_mapping(documents, "block documents")
        scanner.scan_records(caplog.records, "caplog")
        scanner.scan_text(caplog.text, "caplog.text")
        for exc in self.errors:
            scanner.scan_exception(exc, f"exception {type(exc).__name__}")
        scanner.scan_tree(self.tmp_path)
        return scanner

    def cleanup(self) -> None:
        """Delete the blocks this scenario saved."""
        from vendorgate.prefect import VendorApi

        for name in self.block_names:
            with contextlib.suppress(Exception):
                VendorApi.delete(name)
        if self._storage is not None:
            from prefect.filesystems import LocalFileSystem

            with contextlib.suppress(Exception):
                LocalFileSystem.delete(self._storage)


def _flush_api_logs() -> None:
    from prefect.logging.handlers import APILogHandler

    with contextlib.suppress(Exception):
        APILogHandler().flush()


def _iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Capture vendorgate's DEBUG records (and send them to the run log as well)."""
    caplog.set_level(logging.DEBUG, logger="vendorgate")
    caplog.set_level(logging.INFO)
