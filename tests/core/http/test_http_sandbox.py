"""The client against the real vendor sandbox and a real TokenProvider: faults, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from http_helpers import provider_for

from vendorgate import BadResponseError, RateLimitError, ServerError, TransportError
from vendorgate.http import (
    AsyncVendorClient,
    Checkpoint,
    CursorInBody,
    LinkHeader,
    NextUrlInBody,
    OffsetLimit,
    Output,
    PageNumber,
    RateLimit,
    RetryPolicy,
    VendorClient,
)

if TYPE_CHECKING:
    from conftest import SleepRecorder

pytestmark = pytest.mark.slow

API = "/lonewolf/api/*"
POLICY = RetryPolicy(attempts=4, wait_initial_s=0.01, wait_max_s=0.05, timeout_s=10)


def _client(sandbox, preset: str = "lonewolf", **kw) -> VendorClient:  # type: ignore[no-untyped-def]
    kw.setdefault("retry", POLICY)
    return VendorClient(provider_for(sandbox, preset), base_url=sandbox.api_url(preset), **kw)


def _all_ids(sandbox) -> list[int]:  # type: ignore[no-untyped-def]
    return list(range(sandbox.dataset_size))


@pytest.mark.parametrize(
    ("route", "strategy"),
    [
        ("items", PageNumber(page_size=97)),
        ("offset", OffsetLimit(limit=97)),
        ("cursor", CursorInBody(limit=97)),
        ("links", NextUrlInBody()),
        ("linkheader", LinkHeader(records_path=None)),
    ],
)
def test_every_strategy_reads_the_whole_data_set(sandbox, route, strategy) -> None:  # type: ignore[no-untyped-def]
    """Each pagination style of the sandbox yields every record once, in order."""
    with _client(sandbox) as client:
        ids = [r["id"] for r in client.paginate(f"/{route}", strategy)]
    assert ids == _all_ids(sandbox)


@pytest.mark.parametrize("http_date", [False, True])
def test_429_with_retry_after_succeeds(sandbox, http_date: bool) -> None:  # type: ignore[no-untyped-def]
    """429 with Retry-After (seconds or HTTP-date) is waited out and the call succeeds."""
    sandbox.set_faults(
        path=API, status=429, status_burst=2, retry_after_s=0, retry_after_http_date=http_date
    )
    with _client(sandbox) as client:
        assert client.get_json("/version")["vendor"] == "lonewolf"
    assert sandbox.counters().rate_limited == 2


def test_retry_after_is_waited_for(sandbox, sleep_recorder: SleepRecorder) -> None:  # type: ignore[no-untyped-def]
    """The client waits the Retry-After the vendor asked for, once, before retrying."""
    policy = RetryPolicy(attempts=3, wait_initial_s=0.01, wait_max_s=5, timeout_s=10)
    with _client(sandbox, retry=policy) as client:
        client.get("/version")  # the token and the connection first: no token request below
        before = sandbox.counters()
        sleep_recorder.calls.clear()
        sandbox.set_faults(path=API, status=429, status_burst=1, retry_after_s=1)
        client.get("/version")
    # the retry engine slept the whole second; the rate limiter's pause had then run out
    assert sleep_recorder.calls == [("vendorgate._retry", 1.0)]
    after = sandbox.counters()
    assert after.rate_limited - before.rate_limited == 1
    # then answered, on the first retry
    assert after.api("lonewolf") - before.api("lonewolf") == 1


def test_429_without_retry_after_succeeds(sandbox) -> None:  # type: ignore[no-untyped-def]
    """429 without Retry-After falls back to backoff and succeeds."""
    sandbox.set_faults(path=API, status=429, status_burst=2)
    with _client(sandbox) as client:
        assert client.get_json("/version")["vendor"] == "lonewolf"


def test_429_forever_is_rate_limit_error_within_budget(  # type: ignore[no-untyped-def]
    sandbox, sleep_recorder: SleepRecorder
) -> None:
    """A vendor that never stops answering 429 gives RateLimitError within timeout_s:
    each wait is the Retry-After capped at wait_max_s, and no retry outlasts the budget."""
    sandbox.set_faults(path=API, status=429, retry_after_s=1)
    policy = RetryPolicy(attempts=50, wait_initial_s=0.01, wait_max_s=0.3, timeout_s=1.5)
    with _client(sandbox, retry=policy) as client, pytest.raises(RateLimitError) as info:
        client.get("/version")
    assert info.value.status == 429
    assert info.value.request_id
    waits = sleep_recorder.by("vendorgate._retry")
    assert waits == [0.3] * len(waits)  # Retry-After 1 s, capped at wait_max_s
    assert 1 <= len(waits) < policy.timeout_s / policy.wait_max_s  # 5 waits would end past it
    assert sum(sleep_recorder.seconds) < policy.timeout_s
    assert sandbox.counters().rate_limited == len(waits) + 1  # one request per wait, plus one


def test_5xx_burst_is_survived(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A burst of 503s during a pull is retried; every record arrives."""
    sandbox.set_faults(path=API, status=503, status_every=3)
    with _client(sandbox) as client:
        ids = [r["id"] for r in client.paginate("/items", PageNumber(page_size=100))]
    assert ids == _all_ids(sandbox)
    assert sandbox.counters().server_errors >= 1


def test_5xx_forever_is_server_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A vendor that keeps failing gives ServerError carrying status, vendor and URL."""
    sandbox.set_faults(path=API, status=502)
    with _client(sandbox) as client, pytest.raises(ServerError) as info:
        client.get("/items", params={"page": 1})
    err = info.value
    assert err.status == 502
    assert err.vendor == "lonewolf"
    assert err.url is not None
    assert err.url.endswith("/lonewolf/api/items")


def test_reset_mid_body_is_retried(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A connection reset half-way through a body is retried and the pull completes."""
    sandbox.set_faults(path=API, reset_every=4, reset_mid_body=True)
    with _client(sandbox) as client:
        ids = [r["id"] for r in client.paginate("/offset", OffsetLimit(limit=100))]
    assert ids == _all_ids(sandbox)
    assert sandbox.counters().resets >= 1


def test_reset_forever_is_transport_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A connection that always resets gives TransportError."""
    sandbox.set_faults(path=API, reset_every=1)
    with _client(sandbox) as client, pytest.raises(TransportError):
        client.get("/version")


def test_truncated_json_is_retried(sandbox) -> None:  # type: ignore[no-untyped-def]
    """Truncated JSON pages are fetched again; every record arrives once."""
    sandbox.set_faults(path=API, truncate_every=3)
    with _client(sandbox) as client:
        ids = [r["id"] for r in client.paginate("/cursor", CursorInBody(limit=100))]
    assert ids == _all_ids(sandbox)
    assert sandbox.counters().truncated >= 1


def test_truncated_json_forever_is_bad_response(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A body that is always truncated gives BadResponseError."""
    sandbox.set_faults(path=API, truncate_every=1)
    with _client(sandbox) as client, pytest.raises(BadResponseError) as info:
        client.get_json("/items")
    assert info.value.status == 200


class TimeoutRecording(httpx.HTTPTransport):
    """The real transport, recording the read timeout each attempt was sent with."""

    def __init__(self) -> None:
        super().__init__()
        self.read_timeouts: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.read_timeouts.append(request.extensions["timeout"]["read"])
        return super().handle_request(request)


def _planned_s(transport: TimeoutRecording, sleeps: SleepRecorder) -> float:
    """The longest the call could take: every attempt's timeout plus every wait."""
    return sum(transport.read_timeouts) + sum(sleeps.seconds)


def test_slow_replies_past_the_timeout_give_transport_error_in_time(  # type: ignore[no-untyped-def]
    sandbox, sleep_recorder: SleepRecorder
) -> None:
    """Replies slower than the read timeout are retried, then TransportError within
    the total budget (attempts' timeouts and waits add up to at most timeout_s)."""
    policy = RetryPolicy(attempts=10, wait_initial_s=0.01, wait_max_s=0.05, timeout_s=2.0)
    transport = TimeoutRecording()
    with _client(sandbox, retry=policy, timeout=0.2, transport=transport) as client:
        client.get("/version")  # the token first: the budget below is the API call's alone
        transport.read_timeouts.clear()
        sleep_recorder.calls.clear()
        sandbox.set_faults(path=API, latency_ms=5000)
        with pytest.raises(TransportError):
            client.get("/version")
    assert len(transport.read_timeouts) >= 2  # retried
    assert all(t <= 0.2 for t in transport.read_timeouts)
    assert _planned_s(transport, sleep_recorder) <= policy.timeout_s + 0.01


def test_slow_attempts_do_not_outlast_the_total_budget(  # type: ignore[no-untyped-def]
    sandbox, sleep_recorder: SleepRecorder
) -> None:
    """With replies far slower than the per-attempt timeout, the typed error still
    arrives within timeout_s: the last attempt is cut short by the budget."""
    sandbox.set_faults(path=API, latency_ms=10_000)
    policy = RetryPolicy(attempts=10, wait_initial_s=0.01, wait_max_s=0.05, timeout_s=3.0)
    transport = TimeoutRecording()
    with (
        _client(sandbox, retry=policy, timeout=2.0, transport=transport) as client,
        pytest.raises(TransportError),
    ):
        client.get("/version")
    assert all(t <= 2.0 for t in transport.read_timeouts)  # the configured timeout at most
    assert transport.read_timeouts[-1] < 2.0  # the last attempt gets what is left of the budget
    assert _planned_s(transport, sleep_recorder) <= policy.timeout_s + 0.01


def test_token_revoked_mid_pull_is_replaced(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A token revoked in the middle of a pull is replaced once; the pull completes."""
    provider = provider_for(sandbox)
    ids: list[int] = []
    with VendorClient(provider, base_url=sandbox.api_url("lonewolf"), retry=POLICY) as client:
        for page in client.iter_pages("/items", PageNumber(page_size=100)):
            ids.extend(r["id"] for r in page.records)
            if page.request.params["page"] == 3:
                assert sandbox.revoke_token(provider.get_token().access_token) == 1
    assert ids == _all_ids(sandbox)
    assert sandbox.counters().tokens(vendor="lonewolf") == 2


def test_oauth2_token_revoked_mid_pull_async(sandbox) -> None:  # type: ignore[no-untyped-def]
    """The async client replaces a revoked token too (401 dialect), pages concurrent."""
    import anyio
    import httpx

    provider = provider_for(sandbox, "oauth2-basic")
    statuses: list[int] = []

    class Recording(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await super().handle_async_request(request)
            statuses.append(response.status_code)
            return response

    async def main() -> list[int]:
        ids: list[int] = []
        async with AsyncVendorClient(
            provider,
            base_url=sandbox.api_url("oauth2-basic"),
            retry=POLICY,
            concurrency=4,
            transport=Recording(),
        ) as client:
            async for page in client.iter_pages("/items", PageNumber(page_size=50)):
                ids.extend(r["id"] for r in page.records)
                if page.request.params["page"] == 2:
                    sandbox.revoke_token((await provider.aget_token()).access_token)
        return ids

    assert anyio.run(main) == _all_ids(sandbox)
    assert 401 in statuses  # the revoked token was refused with the dialect's status
    assert set(statuses) == {200, 401}
    assert sandbox.counters().tokens(vendor="oauth2") == 2


def test_rate_limited_sandbox_gets_every_page_without_failure(sandbox) -> None:  # type: ignore[no-untyped-def]
    """Under a vendor rate limit, the client-side limit and 429 learning fetch every page."""
    import anyio

    sandbox.set_faults(path=API, rate_limit_rps=40, rate_limit_burst=1, retry_after_s=1)

    async def main() -> list[int]:
        async with AsyncVendorClient(
            provider_for(sandbox),
            base_url=sandbox.api_url("lonewolf"),
            rate_limit=RateLimit(requests_per_s=40, max_concurrency=4),
            retry=RetryPolicy(attempts=10, wait_max_s=1, timeout_s=30),
            concurrency=4,
        ) as client:
            return [r["id"] async for r in client.paginate("/items", PageNumber(page_size=25))]

    assert anyio.run(main) == _all_ids(sandbox)


_CHILD = textwrap.dedent(
    """
    import sys
    from vendorgate.cache import TokenCache
    from vendorgate.http import PageNumber, VendorClient
    from vendorgate.tokens import TokenConfig, TokenProvider

    token_url, api_url, out = sys.argv[1:4]
    config = TokenConfig.from_mapping({"preset": "lonewolf", "client_id": "demo-client",
        "client_secret": "env:VG_TEST_SECRET", "token_url": token_url})
    with VendorClient(TokenProvider(config, cache=TokenCache()), base_url=api_url) as client:
        client.pull("/items", PageNumber(page_size=10), output=out)
    """
)


def test_pull_killed_half_way_resumes_with_exactly_the_source_records(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A pull process killed with SIGKILL half-way, then rerun, ends with every record
    exactly once (checked by id)."""
    target = tmp_path / "items.jsonl"
    checkpoint = Output(path=target).checkpoint_file
    sandbox.set_faults(path=API, latency_ms=30)
    env = {
        **os.environ,
        "VG_TEST_SECRET": sandbox.demo_credentials("lonewolf")["client_secret"].reveal(),
    }
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CHILD,
            sandbox.token_url("lonewolf"),
            sandbox.api_url("lonewolf"),
            str(target),
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cp = Checkpoint.load(checkpoint) if checkpoint.exists() else None
            if cp is not None and cp.records >= sandbox.dataset_size // 3:
                break
            assert child.poll() is None, "the pull ended before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("the pull made no progress")
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert not target.exists()
    sandbox.clear_faults()
    with _client(sandbox) as client:
        result = client.pull("/items", PageNumber(page_size=10), output=target)
    ids = [json.loads(line)["id"] for line in target.read_text().splitlines()]
    assert ids == _all_ids(sandbox)
    assert result.resumed
    assert not checkpoint.exists()
