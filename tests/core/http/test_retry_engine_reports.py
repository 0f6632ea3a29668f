"""What the retry engine reports, sync and async: the Retried events' fields, the log
lines, the attempts counted, and the time a budget-ended call says it took."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import ServerError, events
from vendorgate._retry import Retrier, Retry, RetryPolicy
from vendorgate.http import AsyncVendorClient, VendorClient

URL = "https://api.example.com/items"
POLICY = RetryPolicy(attempts=3, wait_initial_s=0.001, wait_max_s=5, timeout_s=30)


def _twice_then_ok() -> httpx.MockTransport:
    replies = iter([503, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        code = next(replies)
        return httpx.Response(code, headers={"Retry-After": "0.25"}, json={"ok": code})

    return httpx.MockTransport(handler)


def _retried(seen: list[events.Event]) -> list[tuple[object, ...]]:
    return [
        (e.vendor, e.what, e.url, e.cause, e.attempt, e.wait_s)
        for e in seen
        if isinstance(e, events.Retried)
    ]


EXPECTED = [
    ("acme", "GET", URL, "status 503", 1, 0.25),
    ("acme", "GET", URL, "status 503", 2, 0.25),
]


def test_each_retry_is_an_event_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """Two 503s then a 200: two Retried events with every field, two WARNING lines."""
    seen: list[events.Event] = []
    with (
        caplog.at_level(logging.WARNING, logger="vendorgate"),
        VendorClient(
            FakeSource(),
            base_url="https://api.example.com",
            retry=POLICY,
            vendor="acme",
            transport=_twice_then_ok(),
            on_event=seen.append,
        ) as client,
    ):
        assert client.get("/items").status_code == 200
    assert _retried(seen) == EXPECTED
    lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert lines == [
        f"acme: GET {URL}: status 503, retry 1 of 2 in 0.25 s",
        f"acme: GET {URL}: status 503, retry 2 of 2 in 0.25 s",
    ]


@pytest.mark.anyio
async def test_the_async_engine_counts_waits_and_reports_the_same(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The async client: the same events and lines, and each Retry-After waited out."""
    seen: list[events.Event] = []
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="vendorgate"):
        async with AsyncVendorClient(
            FakeSource(),
            base_url="https://api.example.com",
            retry=POLICY,
            vendor="acme",
            transport=_twice_then_ok(),
            on_event=seen.append,
        ) as client:
            assert (await client.get("/items")).status_code == 200
    assert time.monotonic() - started >= 0.49  # two waits of 0.25 s
    assert _retried(seen) == EXPECTED
    lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert lines == [
        f"acme: GET {URL}: status 503, retry 1 of 2 in 0.25 s",
        f"acme: GET {URL}: status 503, retry 2 of 2 in 0.25 s",
    ]


@pytest.mark.anyio
async def test_the_async_engine_gives_up_after_the_configured_attempts() -> None:
    """Three 503s: three attempts, then the error says so."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.method)
        return httpx.Response(503, headers={"Retry-After": "0"}, json={})

    async with AsyncVendorClient(
        FakeSource(),
        base_url="https://api.example.com",
        retry=POLICY,
        transport=httpx.MockTransport(handler),
    ) as client:
        with pytest.raises(ServerError, match=r"gave up after 3 attempts"):
            await client.get("/items")
    assert asked == ["GET"] * 3


def test_a_call_ended_by_its_budget_says_how_long_it_took() -> None:
    """The wait would pass the budget: the error says the attempts and the time so far."""
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    def once(deadline: float) -> str:
        now[0] += 2.0  # each attempt takes two seconds
        error = ServerError("boom", status=503, vendor="v", url="https://x.test/a")
        raise Retry(error, retry_after_s=3.0, cause="status 503")

    retrier = Retrier(
        RetryPolicy(attempts=9, wait_max_s=30, timeout_s=10),
        vendor="v",
        logger=logging.getLogger("vendorgate.test"),
        clock=lambda: now[0],
        sleep=sleep,
    )
    with pytest.raises(ServerError) as info:
        retrier.run(once, method="GET", url="u")
    assert slept == [3.0]  # 2 + 3 + 2 = 7 s; another 3 s wait would end at 10 + 2
    assert str(info.value).endswith("(gave up after 2 attempts in 7.0 s)")
