"""The token request's retry waits, observed with a virtual clock (no retry testing mode)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher

if TYPE_CHECKING:
    from conftest import Endpoint, VirtualTime


@pytest.fixture(autouse=True)
def _no_backoff() -> None:
    """Overrides the token tests' zero-wait mode: here the waits themselves are tested."""


def _fetcher(endpoint: Endpoint) -> TokenFetcher:
    cfg = TokenConfig(
        dialect=get_dialect("lonewolf"),
        client_id="cid",
        token_url="https://auth.example.com/oauth/token",
        client_secret="literal:sec",
    )
    return TokenFetcher(cfg, http_client=endpoint.client(), validator=None)


def test_token_request_waits_the_retry_after_of_a_429(
    endpoint: Endpoint, virtual_time: VirtualTime
) -> None:
    """A 429 with Retry-After: 7 from the token endpoint is retried after exactly 7 s."""
    endpoint.replies.append(httpx.Response(429, headers={"Retry-After": "7"}, json={}))
    assert _fetcher(endpoint).fetch().access_token == "at-1"
    assert len(endpoint.requests) == 2
    assert virtual_time.sleeps == [7.0]


def test_token_request_waits_the_retry_after_of_a_503(
    endpoint: Endpoint, virtual_time: VirtualTime
) -> None:
    """A 503 with Retry-After: 3 is retried after exactly 3 s, not the default backoff."""
    endpoint.replies.append(httpx.Response(503, headers={"Retry-After": "3"}, text="busy"))
    assert _fetcher(endpoint).fetch().access_token == "at-1"
    assert virtual_time.sleeps == [3.0]


def test_token_request_backs_off_without_retry_after(
    endpoint: Endpoint, virtual_time: VirtualTime
) -> None:
    """Without Retry-After, retries still wait (a positive, growing-bounded backoff)."""
    endpoint.replies.extend([httpx.Response(503, text="busy"), httpx.Response(503, text="busy")])
    assert _fetcher(endpoint).fetch().access_token == "at-1"
    assert len(virtual_time.sleeps) == 2
    assert all(wait > 0 for wait in virtual_time.sleeps)
