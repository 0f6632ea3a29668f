"""Fault matrix, token endpoint: down, slow, trickling, 5xx, garbage, 429."""

from __future__ import annotations

import pytest
from reliability_helpers import TrickleServer, free_port, pull_items, read_ids

from vendorgate import (
    TokenError,
    TokenRequestError,
    TokenResponseError,
    TokenTransportError,
    TransportError,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(60)]

TOKEN_PATH = "/lonewolf/oauth/token"


def _expect_no_output(run) -> None:  # type: ignore[no-untyped-def]
    assert not (run.tmp_path / "items.jsonl").exists()


@pytest.mark.scenario(
    "token endpoint down (connection refused)", expect="TokenTransportError < 10 s"
)
def test_token_endpoint_down(run) -> None:  # type: ignore[no-untyped-def]
    """A token endpoint nobody listens on gives TokenTransportError (a TransportError), fast."""
    url = f"http://127.0.0.1:{free_port()}/lonewolf/oauth/token"
    conn = run.connection(token={"token_url": url})
    with conn.client() as client, pytest.raises(TokenTransportError) as info:
        pull_items(client, run.tmp_path / "items.jsonl")
    run.failed_with(info.value)
    assert isinstance(info.value, TransportError)
    assert run.elapsed_s() < 10
    _expect_no_output(run)


@pytest.mark.scenario("token endpoint slow (1 s, timeout 3 s)", expect="success, 1 token request")
def test_token_endpoint_slow_within_timeout(run) -> None:  # type: ignore[no-untyped-def]
    """A slow token endpoint that answers within the timeout is simply waited for."""
    run.sandbox.set_faults(path=TOKEN_PATH, latency_ms=1000)
    out = run.tmp_path / "items.jsonl"
    with run.connection().client() as client:
        result = pull_items(client, out)
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    assert run.tokens_requested() == 1
    run.succeeded(result.records)


@pytest.mark.scenario(
    "token endpoint slower than its timeout (5 s, timeout 1 s)",
    expect="TokenTransportError < 3 attempts x 1 s + waits (8 s)",
)
def test_token_endpoint_slower_than_timeout(run) -> None:  # type: ignore[no-untyped-def]
    """A token endpoint that never answers in time fails within attempts x timeout."""
    run.sandbox.set_faults(path=TOKEN_PATH, latency_ms=5000)
    conn = run.connection(token={"timeout_s": 1.0})
    with conn.client() as client, pytest.raises(TokenTransportError) as info:
        pull_items(client, run.tmp_path / "items.jsonl")
    run.failed_with(info.value)
    assert run.elapsed_s() < 8
    _expect_no_output(run)


@pytest.mark.scenario(
    "token endpoint trickling (1 byte / 0.2 s, timeout 1 s)",
    expect="TokenTransportError < 4 s",
)
def test_token_endpoint_trickling(run) -> None:  # type: ignore[no-untyped-def]
    """A token reply trickling in byte by byte is cut off by the request's deadline."""
    server = TrickleServer(byte_every_s=0.2, give_up_s=2.5)
    try:
        conn = run.connection(token={"token_url": server.url, "timeout_s": 1.0})
        try:
            with conn.client() as client:
                pull_items(client, run.tmp_path / "items.jsonl")
        except TokenError as exc:
            run.failed_with(exc)
        else:
            run.measured = f"success after {run.elapsed_s():.1f} s"
        assert run.errors, run.measured
        assert isinstance(run.errors[0], TransportError), run.measured
        assert run.elapsed_s() < 4, run.measured
    finally:
        server.close()


@pytest.mark.scenario("token endpoint 503 x2", expect="success after retries")
def test_token_endpoint_5xx_burst(run) -> None:  # type: ignore[no-untyped-def]
    """Two 503s from the token endpoint are retried; the pull completes."""
    run.sandbox.set_faults(path=TOKEN_PATH, status=503, status_burst=2)
    out = run.tmp_path / "items.jsonl"
    with run.connection().client() as client:
        result = pull_items(client, out)
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    run.succeeded(result.records)


@pytest.mark.scenario("token endpoint 500 forever", expect="TokenRequestError(status=500) < 10 s")
def test_token_endpoint_5xx_forever(run) -> None:  # type: ignore[no-untyped-def]
    """A token endpoint that keeps failing gives TokenRequestError naming the status."""
    run.sandbox.set_faults(path=TOKEN_PATH, status=500)
    with run.connection().client() as client, pytest.raises(TokenRequestError) as info:
        pull_items(client, run.tmp_path / "items.jsonl")
    run.failed_with(info.value, f"status {info.value.status}")
    assert info.value.status == 500
    assert run.elapsed_s() < 10
    _expect_no_output(run)


@pytest.mark.scenario("token endpoint answers HTML (garbage)", expect="TokenResponseError < 10 s")
def test_token_endpoint_garbage(run) -> None:  # type: ignore[no-untyped-def]
    """An HTML page instead of a token reply is a TokenResponseError, not a crash."""
    run.sandbox.set_faults(path=TOKEN_PATH, html_token_endpoint=True)
    with run.connection().client() as client, pytest.raises(TokenResponseError) as info:
        pull_items(client, run.tmp_path / "items.jsonl")
    run.failed_with(info.value)
    assert run.elapsed_s() < 10
    _expect_no_output(run)


@pytest.mark.scenario("token endpoint 429 x2 with Retry-After: 1", expect="success after the waits")
def test_token_endpoint_429(run) -> None:  # type: ignore[no-untyped-def]
    """A rate-limited token endpoint is waited for as it asks; the pull completes."""
    run.sandbox.set_faults(path=TOKEN_PATH, status=429, status_burst=2, retry_after_s=1)
    out = run.tmp_path / "items.jsonl"
    with run.connection().client() as client:
        result = pull_items(client, out)
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    assert run.sandbox.counters().rate_limited == 2
    run.succeeded(result.records)
