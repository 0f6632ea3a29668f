"""The fault matrix's fixtures: a fresh sandbox client per scenario, the outcome recorder
(for docs/reliability.md) and the leak scan every scenario ends with."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fault_matrix import record_measured
from vendorgate import Secret, VendorConnection
from vendorgate.testing import LeakScanner, VendorSandbox


class Run:
    """One scenario's run: its client, what it measured, and everything to leak-scan."""

    def __init__(self, sandbox: VendorSandbox, tmp_path: Path, scenario: str, expect: str) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.scenario = scenario
        self.expect = expect
        self.client_id = f"rel-{uuid.uuid4().hex[:10]}"
        self.client_secret = Secret(f"rel-secret-{uuid.uuid4().hex}")
        sandbox.add_client("lonewolf", self.client_id, client_secret=self.client_secret)
        self.scanner = LeakScanner(secrets={"client_secret": self.client_secret})
        self.measured = ""
        self.errors: list[BaseException] = []
        self.extra_dirs: list[Path] = []
        self._t0 = time.monotonic()
        self._clock_started = False

    # -- the connection under test -------------------------------------------------------
    def connection(
        self,
        *,
        token: dict[str, Any] | None = None,
        cache: dict[str, Any] | None = None,
        retry: dict[str, Any] | None = None,
        timeout_s: float = 5.0,
    ) -> VendorConnection:
        """A lonewolf connection for this scenario's own client (its own cache key).

        The scenario's clock starts at the first call (imports and setup do not count).
        """
        if not self._clock_started:
            self.restart_clock()
        spec: dict[str, Any] = {
            "preset": "lonewolf",
            "client_id": self.client_id,
            "client_secret": "literal:" + self.client_secret.reveal(),
            "token_url": self.sandbox.token_url("lonewolf"),
            "audience": self.sandbox.audience("lonewolf"),
            "timeout_s": 3.0,
            **(token or {}),
        }
        return VendorConnection.from_mapping(
            {
                "token": spec,
                "base_url": self.sandbox.api_url("lonewolf"),
                "cache": cache,
                "retry": {
                    "attempts": 6,
                    "timeout_s": 30,
                    "wait_initial_s": 0.05,
                    "wait_max_s": 2.0,
                    **(retry or {}),
                },
                "timeout_s": timeout_s,
            }
        )

    def tokens_requested(self) -> int:
        """Token requests of this scenario's client that reached the sandbox."""
        return self.sandbox.counters().tokens(vendor="lonewolf", client_id=self.client_id)

    # -- leak scan -----------------------------------------------------------------------
    def scan(self, caplog: pytest.LogCaptureFixture) -> LeakScanner:
        """Scan what the run left: DEBUG log records, exceptions, files; return the scanner."""
        scanner = self.scanner
        scanner.add(tokens=self.sandbox.issued_tokens("lonewolf", self.client_id))
        scanner.scan_records(caplog.records, "caplog")
        scanner.scan_text(caplog.text, "caplog.text")
        for exc in self.errors:
            scanner.scan_exception(exc, f"exception {type(exc).__name__}")
        for directory in (self.tmp_path, *self.extra_dirs):
            scanner.scan_tree(directory)
        return scanner

    # -- outcome -------------------------------------------------------------------------
    def elapsed_s(self) -> float:
        return time.monotonic() - self._t0

    def restart_clock(self) -> None:
        self._t0 = time.monotonic()
        self._clock_started = True

    def succeeded(self, records: int, note: str = "") -> None:
        """Record a success with the record count and the token requests it took."""
        extra = f"; {note}" if note else ""
        self.measured = (
            f"success: {records} records, {self.tokens_requested()} token request(s), "
            f"{self.elapsed_s():.1f} s{extra}"
        )

    def failed_with(self, exc: BaseException, note: str = "") -> None:
        """Record a named error (and keep it for the leak scan)."""
        self.errors.append(exc)
        extra = f"; {note}" if note else ""
        self.measured = f"{type(exc).__name__} after {self.elapsed_s():.1f} s{extra}"


@pytest.fixture
def run(
    request: pytest.FixtureRequest,
    sandbox: VendorSandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Run]:
    """This scenario's run; on teardown, everything it left is scanned for secrets."""
    marker = request.node.get_closest_marker("scenario")
    name, expect = (marker.args[0], marker.kwargs.get("expect", "")) if marker else ("", "")
    caplog.set_level(logging.DEBUG)
    current = Run(sandbox, tmp_path, name, expect)
    yield current
    sandbox.clear_faults()
    current.scan(caplog)
    record_measured(request.node.nodeid, current.measured)
    current.scanner.assert_clean()
