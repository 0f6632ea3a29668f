"""Reading token replies: lifetimes, fallbacks, and typed errors without secrets."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from vendorgate import TokenRequestError, TokenResponseError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher

SECRET = "client-secret-value-XYZ"


def _cfg(preset: str = "oauth2-post", **kw: object) -> TokenConfig:
    base: dict[str, object] = {
        "client_id": "cid",
        "client_secret": f"literal:{SECRET}",
        "token_url": "https://id.example.test/token",
    }
    base.update(kw)
    return TokenConfig(dialect=get_dialect(preset), **base)


def _fetch(endpoint, reply: httpx.Response, **kw: object):
    endpoint.replies.append(reply)
    return TokenFetcher(_cfg(**kw), http_client=endpoint.client(), validator=None).fetch()


def _jwt(claims: dict[str, object]) -> str:
    def b64(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none'})}.{b64(claims)}.sig"


def test_expires_in_sets_the_lifetime(endpoint) -> None:
    """expires_in is the token's lifetime in seconds."""
    token = _fetch(endpoint, httpx.Response(200, json={"access_token": "a", "expires_in": 3600}))
    assert token.lifetime_s == pytest.approx(3600)


def test_exp_access_token_sets_the_tci_lifetime(endpoint) -> None:
    """TCI's exp_access_token (600 s) is read instead of expires_in."""
    token = _fetch(
        endpoint,
        httpx.Response(200, json={"access_token": "a", "exp_access_token": 600}),
        preset="tci-atm",
        validate_tokens=False,
    )
    assert token.lifetime_s == pytest.approx(600)


def test_jwt_exp_is_the_fallback_lifetime(endpoint) -> None:
    """Without a lifetime field, the access token's own exp claim is used."""
    exp = int(time.time()) + 1234
    token = _fetch(endpoint, httpx.Response(200, json={"access_token": _jwt({"exp": exp})}))
    assert token.expires_at == exp


def test_default_lifetime_is_the_last_fallback(endpoint) -> None:
    """An opaque token without a lifetime gets the configured default lifetime."""
    token = _fetch(
        endpoint, httpx.Response(200, json={"access_token": "opaque"}), default_lifetime_s=777
    )
    assert token.lifetime_s == pytest.approx(777)


def test_scope_and_token_type_are_kept(endpoint) -> None:
    """The granted scope and token type are reported as the vendor sent them."""
    token = _fetch(
        endpoint,
        httpx.Response(
            200,
            json={
                "access_token": "a",
                "expires_in": 10,
                "scope": "read write",
                "token_type": "bearer",
            },
        ),
    )
    assert (token.scope, token.token_type) == ("read write", "bearer")


def test_refresh_token_dropped_when_dialect_does_not_keep_it(endpoint) -> None:
    """A refresh token is only kept by dialects that use one."""
    token = _fetch(
        endpoint,
        httpx.Response(200, json={"access_token": "a", "expires_in": 5, "refresh_token": "r"}),
    )
    assert token.refresh_token is None


def test_reply_without_access_token(endpoint) -> None:
    """A reply without access_token is a TokenResponseError naming the field."""
    with pytest.raises(TokenResponseError, match="access_token") as info:
        _fetch(endpoint, httpx.Response(200, json={"token": "x", "expires_in": 5}))
    assert "fields present: expires_in, token" in str(info.value)


def test_html_instead_of_json(endpoint) -> None:
    """An HTML page (a login page or proxy) is a TokenResponseError saying HTML."""
    with pytest.raises(TokenResponseError, match="HTML"):
        _fetch(
            endpoint,
            httpx.Response(
                200, text="<html><body>Sign in</body></html>", headers={"content-type": "text/html"}
            ),
        )


def test_truncated_json(endpoint) -> None:
    """JSON truncated on every attempt is a TokenResponseError saying so, without the body."""
    endpoint.default = lambda request: httpx.Response(
        200,
        content=b'{"access_token": "eyJsecretpart',
        headers={"content-type": "application/json"},
    )
    with pytest.raises(TokenResponseError, match="truncated") as info:
        TokenFetcher(_cfg(), http_client=endpoint.client(), validator=None).fetch()
    assert "eyJsecretpart" not in str(info.value)
    assert len(endpoint.requests) == 3  # retried like the API client retries a bad body


def test_401_names_status_vendor_and_hint_without_secret(endpoint) -> None:
    """A 401 says to check the client id and secret, with a redacted excerpt."""
    body = {"error": "invalid_client", "client_secret": SECRET}
    with pytest.raises(TokenRequestError) as info:
        _fetch(endpoint, httpx.Response(401, json=body))
    err = info.value
    assert (err.status, err.vendor) == (401, "oauth2-post")
    assert "client id and client secret" in str(err)
    assert "invalid_client" in str(err)
    assert SECRET not in str(err)
    assert SECRET not in (err.body_excerpt or "")


def test_echoed_secret_is_redacted_from_error(endpoint) -> None:
    """Even a vendor echoing our secret in free text does not leak it into the error."""
    with pytest.raises(TokenRequestError) as info:
        _fetch(endpoint, httpx.Response(400, text=f"bad request for secret {SECRET}"))
    assert SECRET not in str(info.value)
    assert "malformed" in str(info.value)


def test_4xx_is_not_retried(endpoint) -> None:
    """A refused request (403) is sent once, not retried blindly."""
    endpoint.default = lambda r: httpx.Response(403, json={"error": "access_denied"})
    with pytest.raises(TokenRequestError, match="permissions"):
        TokenFetcher(_cfg(), http_client=endpoint.client()).fetch()
    assert len(endpoint.requests) == 1


def test_5xx_then_success_is_retried(endpoint) -> None:
    """A 503 from the token endpoint is retried and the next success is returned."""
    endpoint.replies.append(httpx.Response(503, text="unavailable"))
    token = _fetch(endpoint, httpx.Response(200, json={"access_token": "a", "expires_in": 5}))
    assert token.access_token == "a"
    assert len(endpoint.requests) == 2


def test_429_retries_are_bounded(endpoint) -> None:
    """Persistent 429s end in a TokenRequestError with status 429 after a few attempts."""
    endpoint.default = lambda r: httpx.Response(429, headers={"Retry-After": "1"}, json={})
    with pytest.raises(TokenRequestError) as info:
        TokenFetcher(_cfg(), http_client=endpoint.client()).fetch()
    assert info.value.status == 429
    assert "Retry-After: 1" in str(info.value)
    assert len(endpoint.requests) == 3


def test_transport_error_has_no_status() -> None:
    """An unreachable token endpoint is a TokenRequestError with status None."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(TokenRequestError, match="could not be reached") as info:
        TokenFetcher(_cfg(), http_client=client).fetch()
    assert info.value.status is None
