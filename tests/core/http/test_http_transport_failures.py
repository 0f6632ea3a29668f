"""Transport failures (connection, timeout, protocol, TLS) as the user sees them.

Which ones are retried for a method the policy does not retry (only those whose request
was never sent), the words of the final error (vendor, method, URL, the failure's name,
what to check) and the third-party cause kept on it, and a TLS verification failure
named and never retried.
"""

from __future__ import annotations

import logging
import socket
import ssl

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import APITransportError, ServerError
from vendorgate.http import RetryPolicy, VendorClient

POLICY = RetryPolicy(attempts=3, wait_initial_s=0.001, wait_max_s=0.002, timeout_s=10)

# (httpx error, whether the request can have reached the server)
FAILURES = [
    (httpx.ConnectError, False),
    (httpx.ConnectTimeout, False),
    (httpx.PoolTimeout, False),
    (httpx.ReadTimeout, True),
    (httpx.WriteTimeout, True),
    (httpx.ReadError, True),
    (httpx.RemoteProtocolError, True),
]


def _client(error: Exception, seen: list[str]) -> VendorClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        raise error

    return VendorClient(
        FakeSource(),
        base_url="https://api.example.com",
        retry=POLICY,
        vendor="acme",
        transport=httpx.MockTransport(handler),
    )


@pytest.mark.parametrize(("kind", "maybe_sent"), FAILURES, ids=lambda v: getattr(v, "__name__", v))
def test_a_post_is_retried_only_when_it_was_never_sent(
    kind: type[httpx.TransportError], maybe_sent: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """POST is not in retry_methods: retried only if the failure proves it never left."""
    error = kind("boom")
    seen: list[str] = []
    with (
        caplog.at_level(logging.WARNING, logger="vendorgate"),
        _client(error, seen) as client,
        pytest.raises(APITransportError) as info,
    ):
        client.post("/orders", json={"a": 1})
    assert seen == (["POST"] if maybe_sent else ["POST"] * POLICY.attempts)
    name = kind.__name__
    prefix = f"acme: POST https://api.example.com/orders failed: {name} "
    assert str(info.value).startswith(prefix + "(check the network and the timeouts)")
    assert info.value.vendor == "acme"
    assert info.value.url == "https://api.example.com/orders"
    assert info.value.status is None
    assert info.value.__cause__ is error
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    if maybe_sent:
        assert str(info.value) == prefix + "(check the network and the timeouts)"  # no "gave up"
        assert retries == []
    else:
        assert len(retries) == POLICY.attempts - 1
        assert all(f": {name}, retry " in line for line in retries), retries


def test_a_refused_connection_names_the_vendor_and_the_request() -> None:
    """A real refused connection: retried (never sent), then named with what to check."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/items"
    with (
        VendorClient(None, base_url=f"http://127.0.0.1:{port}", retry=POLICY, vendor="acme") as c,
        pytest.raises(APITransportError) as info,
    ):
        c.post("/items", json={})
    message = str(info.value)
    assert message.startswith(
        f"acme: POST {url} failed: ConnectError (check the network and the timeouts)"
    ), message
    assert f"gave up after {POLICY.attempts} attempts" in message
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("verify_message", "named"),
    [
        ("self-signed certificate", "did not verify (self-signed, private CA or expired)"),
        ("Hostname mismatch, certificate is not valid for 'x'", "hostname mismatch"),
    ],
)
def test_a_tls_verification_failure_is_named_and_not_retried(
    verify_message: str, named: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A certificate problem is final even for GET, named, with vendor, method and URL."""
    cert = ssl.SSLCertVerificationError(1, f"certificate verify failed: {verify_message}")
    cert.verify_message = verify_message
    error = httpx.ConnectError(f"[SSL: CERTIFICATE_VERIFY_FAILED] {cert}")  # as httpx words it
    error.__cause__ = cert
    seen: list[str] = []
    with (
        caplog.at_level(logging.WARNING, logger="vendorgate"),
        _client(error, seen) as client,
        pytest.raises(APITransportError) as info,
    ):
        client.get("/items")
    assert seen == ["GET"]
    message = str(info.value)
    assert message.startswith("acme: GET https://api.example.com/items failed: "), message
    assert named in message
    assert "not retried" in message
    assert "gave up" not in message
    assert (info.value.vendor, info.value.url) == ("acme", "https://api.example.com/items")
    assert info.value.__cause__ is error
    assert not [r for r in caplog.records if "retry" in r.getMessage()]


def test_retry_policy_none_makes_one_attempt() -> None:
    """RetryPolicy.none(): one attempt, even for a failure that is always retried."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        raise httpx.ConnectError("refused")

    with (
        VendorClient(
            FakeSource(),
            base_url="https://api.example.com",
            retry=RetryPolicy.none(),
            transport=httpx.MockTransport(handler),
        ) as client,
        pytest.raises(APITransportError) as info,
    ):
        client.get("/items")
    assert seen == ["GET"]
    assert "gave up" not in str(info.value)


def test_an_exhausted_status_error_has_the_last_attempts_error_as_cause() -> None:
    """With no third-party exception behind it, the given-up error's cause is the last
    attempt's own error (the reply's details), not nothing."""
    with (
        VendorClient(
            FakeSource(),
            base_url="https://api.example.com",
            retry=POLICY,
            vendor="acme",
            transport=httpx.MockTransport(lambda r: httpx.Response(503, json={"e": 1})),
        ) as client,
        pytest.raises(ServerError) as info,
    ):
        client.get("/items")
    assert "gave up after 3 attempts" in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, ServerError)
    assert cause.status == 503
    assert "gave up" not in str(cause)
