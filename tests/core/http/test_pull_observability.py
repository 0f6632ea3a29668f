"""What a pull tells: one INFO line, PullResult figures and events, against the real sandbox."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from http_helpers import provider_for

from vendorgate import events
from vendorgate.http import AsyncVendorClient, PageNumber, RetryPolicy, VendorClient

pytestmark = pytest.mark.slow

API = "/lonewolf/api/*"
POLICY = RetryPolicy(attempts=4, wait_initial_s=0.01, wait_max_s=0.05, timeout_s=10)
PAGE = 100


def _client(sandbox, **kw) -> VendorClient:  # type: ignore[no-untyped-def]
    return VendorClient(
        provider_for(sandbox), base_url=sandbox.api_url("lonewolf"), retry=POLICY, **kw
    )


def _pages(sandbox) -> int:  # type: ignore[no-untyped-def]
    return math.ceil(sandbox.dataset_size / PAGE) or 1


def test_a_successful_pull_logs_one_info_line_with_its_figures(
    sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pull that succeeds logs one INFO line: pages, records, retries, 429s, token requests."""
    sandbox.set_faults(path=API, status=429, status_burst=1, retry_after_s=0)
    with caplog.at_level(logging.INFO, logger="vendorgate"), _client(sandbox) as client:
        client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "o.jsonl")
    lines = [r.getMessage() for r in caplog.records if "pulled" in r.getMessage()]
    assert len(lines) == 1
    assert f"{sandbox.dataset_size} records in" in lines[0]
    assert "(1 retry, 1 rate-limited, 1 token request)" in lines[0]


def test_pull_result_carries_the_figures(sandbox, tmp_path: Path) -> None:
    """PullResult reports this run's retries, 429s, token requests and duration."""
    sandbox.set_faults(path=API, status=429, status_burst=2, retry_after_s=0)
    with _client(sandbox) as client:
        result = client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "o.jsonl")
    assert (result.records, result.pages) == (sandbox.dataset_size, _pages(sandbox))
    assert (result.retries, result.rate_limited, result.token_requests) == (2, 2, 1)
    assert result.elapsed_s >= 0


def test_on_event_sees_token_cache_retry_and_pages(sandbox, tmp_path: Path) -> None:
    """A client's on_event callback receives every kind of event of its pull, in order."""
    sandbox.set_faults(path=API, status=503, status_burst=1)
    seen: list[events.Event] = []
    with _client(sandbox, on_event=seen.append) as client:
        client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "o.jsonl")
    names = [e.name for e in seen]
    assert names[:2] == ["cache_miss", "token_fetched"]
    assert "retry" in names
    assert "cache_hit" in names
    assert names.count("page_written") == _pages(sandbox)
    assert names[-1] == "pull_finished"


def test_events_never_carry_the_token(sandbox, tmp_path: Path) -> None:
    """No event holds the access token or the client secret."""
    seen: list[events.Event] = []
    provider = provider_for(sandbox)
    with VendorClient(
        provider, base_url=sandbox.api_url("lonewolf"), on_event=seen.append
    ) as client:
        client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "o.jsonl")
        token = provider.get_token().access_token
    secret = sandbox.demo_credentials("lonewolf")["client_secret"].reveal()
    text = repr(seen)
    assert token not in text
    assert secret not in text


def test_a_failing_callback_never_breaks_a_pull(
    sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback that raises is logged once; the pull completes."""

    def broken(event: events.Event) -> None:
        raise RuntimeError("boom")

    with (
        caplog.at_level(logging.WARNING, logger="vendorgate.events"),
        _client(sandbox, on_event=broken) as client,
    ):
        result = client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "o.jsonl")
    assert result.records == sandbox.dataset_size
    assert len([r for r in caplog.records if r.name == "vendorgate.events"]) == 1


def test_subscribe_receives_events_until_unsubscribed(sandbox, tmp_path: Path) -> None:
    """A process-wide subscriber sees pulls of any client until it unsubscribes."""
    seen: list[events.Event] = []
    unsubscribe = events.subscribe(seen.append)
    try:
        with _client(sandbox) as client:
            client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "a.jsonl")
    finally:
        unsubscribe()
    count = len(seen)
    assert any(isinstance(e, events.PullFinished) for e in seen)
    with _client(sandbox) as client:
        client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "b.jsonl")
    assert len(seen) == count


@pytest.mark.anyio
async def test_async_pull_counts_its_concurrent_pages(sandbox, tmp_path: Path) -> None:
    """An async pull with concurrent pages reports the same figures as a sync one."""
    sandbox.set_faults(path=API, status=503, status_every=4)
    async with AsyncVendorClient(
        provider_for(sandbox), base_url=sandbox.api_url("lonewolf"), retry=POLICY
    ) as client:
        result = await client.pull(
            "/items", PageNumber(page_size=PAGE), output=tmp_path / "o.jsonl"
        )
    assert result.records == sandbox.dataset_size
    assert result.retries == sandbox.counters().server_errors
    assert result.token_requests == 1


def test_a_token_rejected_mid_pull_counts_both_token_requests(sandbox, tmp_path: Path) -> None:
    """A 401 drops the token and a new one is fetched: the pull reports two token requests."""
    sandbox.set_faults(path=API, status=401, status_burst=1)
    with _client(sandbox) as client:
        result = client.pull("/items", PageNumber(page_size=PAGE), output=tmp_path / "o.jsonl")
    assert result.records == sandbox.dataset_size
    assert result.token_requests == 2
