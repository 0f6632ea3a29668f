"""Token endpoint retries: one log line per retry, nothing from any other logger."""

from __future__ import annotations

import logging

import httpx
import pytest

from vendorgate import TokenRequestError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher


def _config() -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("oauth2-basic"),
        client_id="cid",
        token_url="https://id.example.com/oauth/token?tenant=t1",
        client_secret="literal:s3cr3t-client-secret",
    )


def _retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "retry" in f"{r.name} {r.getMessage()}".lower()]


def _check(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    records = _retry_records(caplog)
    assert [r.getMessage().split(" in ")[0] for r in records] == [
        "oauth2-basic: token request to https://id.example.com/oauth/token: status 503,"
        " retry 1 of 2",
        "oauth2-basic: token request to https://id.example.com/oauth/token: status 429,"
        " retry 2 of 2",
    ]
    assert {(r.name, r.levelno) for r in records} == {("vendorgate.tokens", logging.WARNING)}
    assert "s3cr3t" not in caplog.text
    out, err = capsys.readouterr()
    assert "retry" not in (out + err).lower()


def _flaky(endpoint) -> None:  # type: ignore[no-untyped-def]
    endpoint.replies += [
        httpx.Response(503, json={"error": "down"}),
        httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow"}),
    ]


def test_token_retries_are_logged_once_each(endpoint, caplog, capsys) -> None:  # type: ignore[no-untyped-def]
    """Two token endpoint retries give exactly two log records in the whole process."""
    _flaky(endpoint)
    caplog.set_level(logging.DEBUG)
    token = TokenFetcher(_config(), http_client=endpoint.client()).fetch()
    assert token.access_token == "at-1"
    assert len(endpoint.requests) == 3
    _check(caplog, capsys)


@pytest.mark.anyio
async def test_async_token_retries_are_logged_once_each(endpoint, caplog, capsys) -> None:  # type: ignore[no-untyped-def]
    """The async token fetch also logs exactly one record per retry."""
    _flaky(endpoint)
    caplog.set_level(logging.DEBUG)
    async with endpoint.async_client() as http:
        token = await TokenFetcher(_config(), async_http_client=http).afetch()
    assert token.access_token == "at-1"
    _check(caplog, capsys)


def test_token_retries_end_in_plain_token_request_error(endpoint) -> None:  # type: ignore[no-untyped-def]
    """After the last attempt a plain TokenRequestError, chained to the transient one."""
    endpoint.default = lambda request: httpx.Response(503, json={"error": "down"})
    with pytest.raises(TokenRequestError) as info:
        TokenFetcher(_config(), http_client=endpoint.client()).fetch()
    assert type(info.value) is TokenRequestError
    assert info.value.status == 503
    assert isinstance(info.value.__cause__, TokenRequestError)
    assert len(endpoint.requests) == 3
