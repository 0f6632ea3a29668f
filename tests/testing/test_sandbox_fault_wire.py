"""What the sandbox's connection faults put on the wire, read with a raw socket."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

LONEWOLF = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret-lonewolf",
    "audience": "https://api.lwolf.com",
}


def _raw_get(url: str, token: str) -> tuple[bytes, BaseException | None]:
    """Send one GET over a plain socket; return every byte received and how it ended."""
    parts = urlsplit(url)
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    received = bytearray()
    ended: BaseException | None = None
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError as exc:
            ended = exc
    return bytes(received), ended


def _split(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return status, headers, body


@pytest.fixture
def token(sandbox, http) -> str:  # type: ignore[no-untyped-def]
    return str(http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()["access_token"])


def test_reset_mid_body_sends_headers_and_part_of_the_body_then_resets(sandbox, token) -> None:  # type: ignore[no-untyped-def]
    """reset_mid_body: status line, headers and some (not all) body bytes, then a TCP reset."""
    sandbox.set_faults(path="/lonewolf/api/*", reset_burst=1, reset_mid_body=True)
    raw, ended = _raw_get(sandbox.api_url("lonewolf") + "/items", token)
    status, headers, body = _split(raw)
    assert status.startswith("HTTP/1.1 200")
    assert 0 < len(body) < int(headers["content-length"])
    assert isinstance(ended, ConnectionResetError)
    assert sandbox.counters().resets == 1
    assert sandbox.counters().api("lonewolf") == 1  # the vendor processed the request


def test_reset_before_the_reply_sends_nothing(sandbox, token) -> None:  # type: ignore[no-untyped-def]
    """reset_burst without reset_mid_body: not a byte of reply, then a TCP reset."""
    sandbox.set_faults(path="/lonewolf/api/*", reset_burst=1)
    raw, ended = _raw_get(sandbox.api_url("lonewolf") + "/items", token)
    assert raw == b""
    assert isinstance(ended, ConnectionResetError)
    assert sandbox.counters().resets == 1


def test_after_the_burst_the_same_request_gets_the_whole_body(sandbox, token) -> None:  # type: ignore[no-untyped-def]
    """Once the burst is spent, the reply is complete and the connection ends cleanly."""
    sandbox.set_faults(path="/lonewolf/api/*", reset_burst=1, reset_mid_body=True)
    _raw_get(sandbox.api_url("lonewolf") + "/items", token)
    raw, ended = _raw_get(sandbox.api_url("lonewolf") + "/items", token)
    status, headers, body = _split(raw)
    assert status.startswith("HTTP/1.1 200")
    assert len(body) == int(headers["content-length"])
    assert ended is None
