"""Refresh grants: used when a refresh token is kept, with a fallback to the primary grant."""

from __future__ import annotations

import json

import httpx
import pytest

from vendorgate import TokenRequestError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import Token, TokenConfig, TokenFetcher


def _wokelo() -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("wokelo"),
        client_id="cid",
        client_secret="literal:sec",
        username="literal:u@example.com",
        password="literal:pw",
    )


def _ok(**extra: object) -> httpx.Response:
    return httpx.Response(200, json={"access_token": "new", "expires_in": 60, **extra})


def test_refused_refresh_falls_back_to_password_grant(endpoint) -> None:
    """When the vendor refuses the refresh token, a new token comes from the primary grant."""
    endpoint.replies += [
        httpx.Response(401, json={"error": "invalid_grant"}),
        _ok(refresh_token="r2"),
    ]
    prev = Token("old", expires_at=0, issued_at=0, refresh_token="r1")
    token = TokenFetcher(_wokelo(), http_client=endpoint.client()).fetch(prev)
    assert token.refresh_token == "r2"
    grants = [
        b"refresh_token" in r.content and b'name="password"' not in r.content
        for r in endpoint.requests
    ]
    assert grants == [True, False]


def test_refresh_reply_without_refresh_token_keeps_the_old_one(endpoint) -> None:
    """A refresh reply that does not rotate the refresh token keeps the previous one."""
    endpoint.replies.append(_ok())
    prev = Token("old", expires_at=0, issued_at=0, refresh_token="r1")
    token = TokenFetcher(_wokelo(), http_client=endpoint.client()).fetch(prev)
    assert token.refresh_token == "r1"


def test_transient_refresh_failure_is_not_masked(endpoint) -> None:
    """A refresh that fails for server reasons raises instead of silently re-logging in."""
    endpoint.default = lambda r: httpx.Response(502, text="bad gateway")
    prev = Token("old", expires_at=0, issued_at=0, refresh_token="r1")
    with pytest.raises(TokenRequestError) as info:
        TokenFetcher(_wokelo(), http_client=endpoint.client()).fetch(prev)
    assert info.value.status == 502


@pytest.mark.anyio
async def test_afetch_uses_the_refresh_grant(endpoint) -> None:
    """The async fetch sends the same refresh request as the sync one."""
    endpoint.replies.append(_ok(refresh_token="r2"))
    prev = Token("old", expires_at=0, issued_at=0, refresh_token="r1")
    token = await TokenFetcher(_wokelo(), async_http_client=endpoint.async_client()).afetch(prev)
    assert token.access_token == "new"
    assert b"refresh_token" in endpoint.last.content


@pytest.mark.anyio
async def test_afetch_primary_grant(endpoint) -> None:
    """The async fetch returns a token from the primary grant."""
    cfg = TokenConfig(dialect=get_dialect("lonewolf"), client_id="c", client_secret="literal:s")
    token = await TokenFetcher(cfg, async_http_client=endpoint.async_client()).afetch()
    assert token.access_token == "at-1"
    assert json.loads(endpoint.last.content)["audience"] == "https://api.lwolf.com"
