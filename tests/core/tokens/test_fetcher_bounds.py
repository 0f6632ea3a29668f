"""Time and size bounds of a token request, and odd replies, against the real sandbox."""

from __future__ import annotations

import pytest

from vendorgate import TokenRequestError, TokenResponseError, TokenTransportError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher

pytestmark = pytest.mark.slow

TOKEN_PATH = "/lonewolf/oauth/token"


def _lonewolf(sandbox, **kw) -> TokenFetcher:  # type: ignore[no-untyped-def]
    demo = sandbox.demo_credentials("lonewolf")
    return TokenFetcher(
        TokenConfig(
            dialect=get_dialect("lonewolf"),
            client_id=demo["client_id"],
            token_url=sandbox.token_url("lonewolf"),
            client_secret="literal:" + demo["client_secret"].reveal(),
            **kw,
        )
    )


def test_trickling_token_reply_ends_in_a_timeout_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A reply that trickles in past timeout_s is a TokenTransportError, not a long wait."""
    sandbox.set_faults(path=TOKEN_PATH, drip_ms=100, drip_bytes=4)
    with pytest.raises(TokenTransportError, match="timeout_s") as info:
        _lonewolf(sandbox, timeout_s=0.5).fetch()
    assert "0.5 s" in str(info.value)


def test_huge_token_reply_is_refused(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A token reply larger than the cap is a TokenResponseError naming the limit."""
    sandbox.set_faults(path=TOKEN_PATH, huge_body_bytes=2 * 1024 * 1024)
    with pytest.raises(TokenResponseError, match="KiB"):
        _lonewolf(sandbox).fetch()


@pytest.mark.parametrize("lifetime", ["Infinity", '"inf"', "1e400", "NaN", '"nan"', '"-Infinity"'])
def test_non_finite_expires_in_is_refused(sandbox, lifetime: str) -> None:  # type: ignore[no-untyped-def]
    """An expires_in that is not a finite number is a TokenResponseError naming the field."""
    sandbox.set_faults(
        path=TOKEN_PATH, reply_body='{"access_token": "t-1", "expires_in": ' + lifetime + "}"
    )
    with pytest.raises(TokenResponseError, match="expires_in"):
        _lonewolf(sandbox).fetch()


def test_absurd_expires_in_is_capped(sandbox) -> None:  # type: ignore[no-untyped-def]
    """An expires_in of 2**63-1 is capped at the documented maximum lifetime."""
    from vendorgate.tokens import MAX_TOKEN_LIFETIME_S

    sandbox.set_faults(
        path=TOKEN_PATH, reply_body='{"access_token": "t-1", "expires_in": 9223372036854775807}'
    )
    token = _lonewolf(sandbox).fetch()
    assert token.lifetime_s == MAX_TOKEN_LIFETIME_S


@pytest.mark.parametrize("lifetime", ["0", "-5", '"0"'])
def test_zero_or_negative_expires_in_is_invalid(sandbox, lifetime: str) -> None:  # type: ignore[no-untyped-def]
    """expires_in 0 or negative is a TokenResponseError, not a token for an hour."""
    sandbox.set_faults(
        path=TOKEN_PATH, reply_body='{"access_token": "t-1", "expires_in": ' + lifetime + "}"
    )
    with pytest.raises(TokenResponseError, match="expires_in"):
        _lonewolf(sandbox).fetch()


def test_deeply_nested_token_reply_is_a_response_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A deeply nested JSON token reply is a TokenResponseError, not a RecursionError."""
    sandbox.set_faults(path=TOKEN_PATH, reply_body="[" * 100_000 + "]" * 100_000)
    with pytest.raises(TokenResponseError):
        _lonewolf(sandbox).fetch()


def test_huge_integer_lifetime_is_capped(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A 400-digit expires_in is handled (capped), never an OverflowError."""
    sandbox.set_faults(
        path=TOKEN_PATH, reply_body='{"access_token": "t-1", "expires_in": 1' + "0" * 400 + "}"
    )
    from vendorgate.tokens import MAX_TOKEN_LIFETIME_S

    assert _lonewolf(sandbox).fetch().lifetime_s == MAX_TOKEN_LIFETIME_S


def test_truncated_token_reply_is_retried(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A truncated token reply is retried, as the API client retries one."""
    sandbox.set_faults(path=TOKEN_PATH, truncate_burst=1)
    assert _lonewolf(sandbox).fetch().access_token


def test_redirect_from_token_endpoint_is_named(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A 302 from the token endpoint is a TokenRequestError naming the redirect target."""
    sandbox.set_faults(
        path=TOKEN_PATH,
        reply_body="",
        reply_status=302,
        reply_headers={"Location": "https://login.example.com/sso?secret=s3cr3t"},
    )
    with pytest.raises(TokenRequestError, match="redirect") as info:
        _lonewolf(sandbox).fetch()
    assert info.value.status == 302
    assert "login.example.com" in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert "empty body" not in str(info.value)


@pytest.mark.anyio
async def test_async_trickling_token_reply_ends_in_a_timeout_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    """afetch: a reply that trickles in past timeout_s is a TokenTransportError too."""
    sandbox.set_faults(path=TOKEN_PATH, drip_ms=100, drip_bytes=4)
    with pytest.raises(TokenTransportError, match="timeout_s"):
        await _lonewolf(sandbox, timeout_s=0.5).afetch()


@pytest.mark.anyio
async def test_async_huge_token_reply_is_refused(sandbox) -> None:  # type: ignore[no-untyped-def]
    """afetch: a token reply larger than the cap is a TokenResponseError naming the limit."""
    sandbox.set_faults(path=TOKEN_PATH, huge_body_bytes=2 * 1024 * 1024)
    with pytest.raises(TokenResponseError, match="KiB"):
        await _lonewolf(sandbox).afetch()
