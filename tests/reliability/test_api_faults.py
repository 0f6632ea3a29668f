"""Fault matrix, vendor API: 429 storms, 5xx bursts, resets mid-body, truncated JSON,
a token revoked mid-run. Every pull's output is checked record by record."""

from __future__ import annotations

import threading

import pytest
from reliability_helpers import pull_items, read_ids

from vendorgate import RateLimitError, ServerError
from vendorgate.http import Output

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(60)]

API = "/lonewolf/api/*"


def _pull_ok(run, conn=None, note: str = "") -> None:  # type: ignore[no-untyped-def]
    out = run.tmp_path / "items.jsonl"
    with (conn or run.connection()).client() as client:
        result = pull_items(client, out)
    assert read_ids(out) == list(range(run.sandbox.dataset_size))  # none lost, none twice
    run.succeeded(result.records, note)


@pytest.mark.scenario(
    "API 429 storm (first 3 requests) with Retry-After: 1", expect="success, waits as told"
)
def test_429_storm_retry_after_seconds(run) -> None:  # type: ignore[no-untyped-def]
    """A burst of 429s with Retry-After in seconds is waited out; every record arrives once."""
    run.sandbox.set_faults(path=API, status=429, status_burst=3, retry_after_s=1)
    _pull_ok(run)
    assert run.sandbox.counters().rate_limited == 3
    assert run.elapsed_s() >= 2  # the client did wait (Retry-After), it did not hammer


@pytest.mark.scenario(
    "API 429 storm (first 3) with Retry-After as HTTP-date", expect="success, waits as told"
)
def test_429_storm_retry_after_http_date(run) -> None:  # type: ignore[no-untyped-def]
    """Retry-After given as an HTTP-date is understood; the pull completes exactly."""
    run.sandbox.set_faults(
        path=API, status=429, status_burst=3, retry_after_s=1, retry_after_http_date=True
    )
    _pull_ok(run)
    assert run.sandbox.counters().rate_limited == 3


@pytest.mark.scenario("API 429 storm (first 5) without Retry-After", expect="success, backoff")
def test_429_storm_without_retry_after(run) -> None:  # type: ignore[no-untyped-def]
    """429s without Retry-After back off exponentially and the pull completes."""
    run.sandbox.set_faults(path=API, status=429, status_burst=5)
    _pull_ok(run)
    assert run.sandbox.counters().rate_limited == 5


@pytest.mark.scenario("API 429 forever", expect="RateLimitError within retry.timeout_s (10 s)")
def test_429_forever(run) -> None:  # type: ignore[no-untyped-def]
    """A vendor that never stops rate limiting gives RateLimitError within the retry budget."""
    run.sandbox.set_faults(path=API, status=429)
    conn = run.connection(retry={"timeout_s": 10, "attempts": 20})
    with conn.client() as client, pytest.raises(RateLimitError) as info:
        pull_items(client, run.tmp_path / "items.jsonl")
    run.failed_with(info.value, f"{run.sandbox.counters().rate_limited} x 429")
    assert run.elapsed_s() < 12


@pytest.mark.scenario("API 5xx burst (502 x4)", expect="success after retries")
def test_5xx_burst(run) -> None:  # type: ignore[no-untyped-def]
    """A burst of 502s is retried; every record arrives once."""
    run.sandbox.set_faults(path=API, status=502, status_burst=4)
    _pull_ok(run)


@pytest.mark.scenario(
    "API 500 on every 4th request, no retries, then rerun",
    expect="ServerError, then the rerun resumes with every record once",
)
def test_5xx_then_rerun_resumes(run) -> None:  # type: ignore[no-untyped-def]
    """A pull that fails for good keeps its checkpoint; the rerun resumes with no gap or dup."""
    run.sandbox.set_faults(path=API, status=500, status_every=4)
    out = run.tmp_path / "items.jsonl"
    with (
        run.connection(retry={"attempts": 1}).client() as client,
        pytest.raises(ServerError) as info,
    ):
        pull_items(client, out)
    run.failed_with(info.value)
    assert Output(path=out).checkpoint_file.exists()
    run.sandbox.clear_faults()
    with run.connection().client() as client:
        result = pull_items(client, out)
    assert result.resumed
    assert read_ids(out) == list(range(run.sandbox.dataset_size))
    run.measured += f"; rerun resumed: {result.records} records, none twice"


@pytest.mark.scenario("API connection reset mid-body (every 3rd)", expect="success after retries")
def test_reset_mid_body(run) -> None:  # type: ignore[no-untyped-def]
    """Connections cut half-way through a body are retried; no partial page is written."""
    run.sandbox.set_faults(path=API, reset_every=3, reset_mid_body=True)
    _pull_ok(run)
    assert run.sandbox.counters().resets >= 3


@pytest.mark.scenario("API truncated JSON (every 3rd)", expect="success after retries")
def test_truncated_json(run) -> None:  # type: ignore[no-untyped-def]
    """Bodies cut in half are retried as bad replies; every record arrives once."""
    run.sandbox.set_faults(path=API, truncate_every=3)
    _pull_ok(run)
    assert run.sandbox.counters().truncated >= 3


@pytest.mark.scenario("access token revoked mid-run", expect="success, one extra token request")
def test_token_revoked_mid_run(run) -> None:  # type: ignore[no-untyped-def]
    """A token the vendor revokes half-way is replaced once; the pull completes exactly."""
    run.sandbox.set_faults(path=API, latency_ms=40)
    out = run.tmp_path / "items.jsonl"
    checkpoint = Output(path=out).checkpoint_file
    done = threading.Event()
    revoked: list[int] = []

    def revoke_when_started() -> None:
        while not done.is_set() and not checkpoint.exists():
            done.wait(0.01)
        revoked.append(run.sandbox.revoke_client("lonewolf", run.client_id))

    watcher = threading.Thread(target=revoke_when_started, daemon=True)
    watcher.start()
    try:
        _pull_ok(run)
    finally:
        done.set()
        watcher.join(5)
    assert revoked
    assert revoked[0] >= 1
    assert run.tokens_requested() == 2
