"""Each retry is logged exactly once, by vendorgate, whatever else is installed."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from http_helpers import FakeSource

from vendorgate import ServerError
from vendorgate.http import AsyncVendorClient, RetryPolicy, VendorClient, retry_testing

FAST = RetryPolicy(attempts=4, wait_initial_s=0.001, wait_max_s=0.01, timeout_s=10)


def _flaky(*codes: int) -> tuple[Callable[[httpx.Request], httpx.Response], list[int]]:
    """A handler answering ``codes`` in turn, then 200; records what it answered."""
    answered: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        code = codes[len(answered)] if len(answered) < len(codes) else 200
        answered.append(code)
        headers = {"Retry-After": "0"} if code == 429 else {}
        return httpx.Response(code, headers=headers, json={"n": len(answered)})

    return handler, answered


def _retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Every captured record, from any logger, that mentions a retry."""
    return [r for r in caplog.records if "retry" in f"{r.name} {r.getMessage()}".lower()]


def _assert_one_line_per_retry(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], retries: int
) -> None:
    records = _retry_records(caplog)
    assert len(records) == retries
    assert {r.name for r in records} == {"vendorgate.http"}
    assert all(r.levelno == logging.WARNING for r in records)
    out, err = capsys.readouterr()  # structlog-style hooks print instead of logging
    assert "retry" not in (out + err).lower()


def test_each_retry_is_logged_once_across_all_loggers(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two retries give exactly two log records in the whole process, both vendorgate's."""
    handler, answered = _flaky(503, 429)
    caplog.set_level(logging.DEBUG)
    with VendorClient(
        FakeSource(), base_url="https://x.test", retry=FAST, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.get_json("/items") == {"n": 3}
    assert answered == [503, 429, 200]
    _assert_one_line_per_retry(caplog, capsys, retries=2)
    first, second = (r.getMessage() for r in _retry_records(caplog))
    assert first.startswith("fake: GET https://x.test/items: status 503, retry 1 of 3 in ")
    assert second.startswith("fake: GET https://x.test/items: status 429, retry 2 of 3 in ")


@pytest.mark.anyio
async def test_async_each_retry_is_logged_once_across_all_loggers(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """The async client also logs exactly one record per retry."""
    handler, answered = _flaky(502, 504)
    caplog.set_level(logging.DEBUG)
    async with AsyncVendorClient(
        FakeSource(), base_url="https://x.test", retry=FAST, transport=httpx.MockTransport(handler)
    ) as client:
        assert await client.get_json("/items") == {"n": 3}
    assert answered == [502, 504, 200]
    _assert_one_line_per_retry(caplog, capsys, retries=2)


def test_giving_up_logs_only_the_retries_made(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """When retries run out, the log has one line per retry and none for giving up."""
    handler, answered = _flaky(503, 503, 503, 503)
    caplog.set_level(logging.DEBUG)
    with (
        VendorClient(
            FakeSource(),
            base_url="https://x.test",
            retry=FAST,
            transport=httpx.MockTransport(handler),
        ) as client,
        pytest.raises(ServerError, match="gave up after 4 attempts"),
    ):
        client.get("/items")
    assert len(answered) == 4
    _assert_one_line_per_retry(caplog, capsys, retries=3)


def test_retry_testing_caps_attempts() -> None:
    """retry_testing(attempts=2) makes at most two attempts, without waiting."""
    handler, answered = _flaky(503, 503, 503)
    slow = RetryPolicy(attempts=5, wait_initial_s=60, wait_max_s=60, timeout_s=300)
    with (
        retry_testing(attempts=2),
        VendorClient(
            FakeSource(),
            base_url="https://x.test",
            retry=slow,
            transport=httpx.MockTransport(handler),
        ) as client,
        pytest.raises(ServerError, match="gave up after 2 attempts"),
    ):
        client.get("/items")
    assert answered == [503, 503]


def test_retry_testing_ends_with_its_block() -> None:
    """Outside a retry_testing block the policy's own attempts apply again."""
    handler, answered = _flaky(503, 503)
    with retry_testing(attempts=1):
        pass
    with VendorClient(
        FakeSource(), base_url="https://x.test", retry=FAST, transport=httpx.MockTransport(handler)
    ) as client:
        client.get("/items")
    assert answered == [503, 503, 200]


def test_retry_testing_rejects_bad_attempts() -> None:
    """retry_testing(attempts=0) is a ConfigurationError naming attempts."""
    from vendorgate import ConfigurationError

    with pytest.raises(ConfigurationError, match="attempts"), retry_testing(attempts=0):
        pass  # pragma: no cover
