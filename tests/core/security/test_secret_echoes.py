"""A secret a vendor echoes back, in any common encoding, never reaches an error message."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import httpx
import pytest

from vendorgate import TokenRequestError
from vendorgate._secret import redact_text
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher

SECRET = 'pä"ss/wörd+1 &=x'


def _encodings(value: str) -> dict[str, str]:
    raw = value.encode()
    return {
        "raw": value,
        "json": json.dumps(value)[1:-1],
        "json-unicode": json.dumps(value, ensure_ascii=False)[1:-1],
        "json-slash": json.dumps(value)[1:-1].replace("/", "\\/"),
        "percent": quote(value, safe=""),
        "percent-lower": quote(value, safe=""),  # lower-cased in the test
        "form": quote_plus(value),
        "base64": base64.b64encode(raw).decode(),
        "base64-nopad": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "base64url-nopad": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


@pytest.mark.parametrize("name", list(_encodings(SECRET)))
def test_redact_text_masks_each_encoding_of_a_known_secret(name: str) -> None:
    """An echoed secret is masked whether raw, JSON-escaped, percent- or base64-encoded."""
    encoded = _encodings(SECRET)[name]
    if name == "percent-lower":
        import re

        encoded = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(SECRET, safe=""))
    out = redact_text(f"error: the value {encoded} is wrong", known=(SECRET,), limit=500)
    assert encoded not in out
    assert "**********" in out


def test_short_values_are_masked_raw_only() -> None:
    """A very short secret is masked as is, without masking ordinary words of its encodings."""
    from vendorgate._secret import secret_variants

    assert secret_variants("ab") == ("ab",)
    assert secret_variants("") == ()


def _config(token_url: str = "https://id.example.com/oauth/v2/token") -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("oauth2-post"),
        client_id="me",
        client_secret="literal:" + SECRET,
        token_url=token_url,
    )


@pytest.mark.parametrize("name", ["json", "json-unicode", "form", "percent", "base64url"])
def test_token_error_never_shows_an_echoed_secret(name: str) -> None:
    """A token endpoint that echoes the client secret in its error body: the message masks it."""
    encoded = _encodings(SECRET)[name]

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f'{{"error": "invalid_client", "got": "{encoded}"}}')

    fetcher = TokenFetcher(_config(), http_client=httpx.Client(transport=httpx.MockTransport(echo)))
    with pytest.raises(TokenRequestError) as info:
        fetcher.fetch()
    shown = f"{info.value} {info.value.body_excerpt}"
    assert encoded not in shown
    assert SECRET not in shown


def test_token_url_credentials_and_query_never_appear_in_errors() -> None:
    """User info and a query string inside token_url are left out of connection errors."""
    config = _config("https://robot:hunter2pw@127.0.0.1:9/oauth/token?api_key=qs-s3cr3t")
    with pytest.raises(TokenRequestError) as info:
        TokenFetcher(config, attempts=1).fetch()
    text = str(info.value)
    assert "127.0.0.1:9/oauth/token" in text
    assert "hunter2pw" not in text
    assert "qs-s3cr3t" not in text


@pytest.mark.slow
def test_failed_vault_login_keeps_the_secret_id_out_of_vendorgate_frame_locals(openbao) -> None:
    """A traceback captured with locals (Sentry, rich) shows no raw AppRole secret id."""
    import traceback

    from vendorgate import VaultAuthError
    from vendorgate._secret import Secret
    from vendorgate.secrets import VaultSession, VaultSettings

    secret_id = "approle-secret-id-4711"
    settings = VaultSettings(
        url=openbao.url, auth_method="approle", role_id="no-such-role", secret_id=Secret(secret_id)
    )
    with pytest.raises(VaultAuthError) as info:
        VaultSession(settings).client()
    assert secret_id not in str(info.value)
    for frame, _ in traceback.walk_tb(info.value.__traceback__):
        if "vendorgate" not in frame.f_code.co_filename:
            continue
        shown = " ".join(repr(v) for v in frame.f_locals.values())
        assert secret_id not in shown, frame.f_code.co_name


def test_echoed_basic_credential_is_masked() -> None:
    """A server echoing the Basic credential (base64 of id:secret) does not expose it."""
    seen: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        credential = request.headers["authorization"].split(" ", 1)[1]
        seen.append(credential)
        return httpx.Response(401, json={"error": "invalid_client", "got": credential})

    config = TokenConfig(
        dialect=get_dialect("oauth2-basic"),
        client_id="me",
        client_secret="literal:" + SECRET,
        token_url="https://id.example.com/oauth/v2/token",
    )
    fetcher = TokenFetcher(config, http_client=httpx.Client(transport=httpx.MockTransport(echo)))
    with pytest.raises(TokenRequestError) as info:
        fetcher.fetch()
    assert seen
    assert seen[0] not in f"{info.value} {info.value.body_excerpt}"
