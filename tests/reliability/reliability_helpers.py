"""Servers the fault matrix controls: a trickling token endpoint and a TCP proxy that freezes."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from pathlib import Path

from vendorgate.http import PageNumber, PullResult

PAGE = PageNumber(page_size=100)
REDIS = ("127.0.0.1", 6379)


def redis_available() -> bool:
    """Whether a Redis server answers on 127.0.0.1:6379."""
    try:
        socket.create_connection(REDIS, timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    """A TCP port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_ids(path: Path) -> list[int]:
    """The record ids of a JSON Lines output, in file order."""
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def pull_items(client, output: Path, **kw) -> PullResult:  # type: ignore[no-untyped-def]
    """Pull the sandbox's whole data set to ``output``."""
    return client.pull("/items", PAGE, output=output, **kw)


class TrickleServer:
    """A token endpoint that answers 200 and then sends its JSON body one byte at a time.

    Each byte comes well within any read timeout, so only a whole-request deadline stops
    the client. The server gives up after ``give_up_s`` and closes the connection.
    """

    def __init__(self, *, byte_every_s: float = 0.2, give_up_s: float = 6.0) -> None:
        self.byte_every_s = byte_every_s
        self.give_up_s = give_up_s
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/lonewolf/oauth/token"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        body = json.dumps(
            {"access_token": "trickled-token-value", "token_type": "Bearer", "expires_in": 3600}
        ).encode()
        deadline = time.monotonic() + self.give_up_s
        try:
            conn.settimeout(2)
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            for i in range(len(body)):
                if self._stop.is_set() or time.monotonic() > deadline:
                    break
                conn.sendall(body[i : i + 1])
                time.sleep(self.byte_every_s)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)


class FreezingProxy:
    """A TCP proxy to ``target`` that can stop forwarding (a frozen, not a dead, server).

    While frozen it still accepts connections and reads what clients send, but forwards
    nothing in either direction: the peer looks alive and never answers.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if self.frozen.is_set():
                continue  # swallowed: nothing reaches the other side
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(2)
