"""Fixtures shared by the core tests: virtual time for the tests of waits, and a real
HTTP server answering with an endless body (a broken Vault, a misconfigured JWKS URL)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


class VirtualTime:
    """A monotonic clock that only moves when code sleeps (or a test advances it).

    Every ``time.sleep`` is recorded, so a test asserts the waits a mechanism asked for
    exactly, without sleeping and without wall-clock tolerances.
    """

    def __init__(self, start: float | None = None) -> None:
        # Far below the real clock: code that still reads the real ``time.monotonic``
        # (say, a default argument bound at import) then compares against virtual
        # deadlines long past and fails on every machine, not only on one whose uptime
        # happens to pass the virtual start (as CI's did).
        self.now = time.monotonic() - 1_000_000.0 if start is None else start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    """``time.monotonic`` and ``time.sleep`` replaced by a recording virtual clock.

    For single-threaded tests against ``httpx.MockTransport`` only: a real server thread
    would see the virtual clock too.
    """
    clock = VirtualTime()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    return clock


@dataclass
class EndlessServer:
    """A real HTTP server (stdlib, one thread per connection) standing in for a broken one.

    ``GET``/``POST``/``PUT`` of a path in :attr:`replies` answer that JSON object; every
    other path answers 200 with :attr:`prefix` and then ``x`` bytes, chunked and without a
    ``Content-Length`` (or, with :attr:`declared_length`, plain bytes under that
    ``Content-Length``), until the client hangs up or :attr:`ceiling` bytes were sent (so
    a client without a size cap ends too, with the whole ceiling read).

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        sent: Body bytes written per endless reply, in order (the last counts up while
            a reply is being sent).
    """

    url: str = ""
    prefix: bytes = b'{"data": {"pad": "'
    ceiling: int = 64 * 1024 * 1024
    declared_length: int | None = None
    replies: dict[str, dict[str, object]] = field(default_factory=dict)
    sent: list[int] = field(default_factory=list)


@pytest.fixture
def endless_server() -> Iterator[EndlessServer]:
    """A running :class:`EndlessServer`; stopped after the test."""
    state = EndlessServer()
    chunk = b"x" * 65536

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            if path in state.replies:
                body = json.dumps(state.replies[path]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            index = len(state.sent)
            state.sent.append(0)  # before the headers: a client may give up on them alone
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            declared = state.declared_length
            if declared is None:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(declared))
            self.end_headers()
            try:
                part = state.prefix
                end = min(state.ceiling, declared or state.ceiling)
                while state.sent[index] < end:
                    part = part[: end - state.sent[index]]
                    framed = b"%x\r\n%s\r\n" % (len(part), part) if declared is None else part
                    self.wfile.write(framed)
                    state.sent[index] += len(part)
                    part = chunk
                if declared is None:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: what a size cap does
            self.close_connection = True

        do_GET = do_POST = do_PUT = _answer

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
