"""HTTP Basic client credentials: RFC 6749 2.3.1 form-encoding by default, raw on request."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest

from vendorgate import TokenRequestError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher

CLIENT_ID = "robot:eu/1"
SECRET = "s3c+r/t:ä&=%41"


def _config(dialect_overrides: dict[str, object] | None = None, **kw: object) -> TokenConfig:
    dialect = get_dialect("oauth2-basic")
    if dialect_overrides:
        dialect = dialect.with_overrides(dialect_overrides)
    values: dict[str, object] = {
        "client_id": CLIENT_ID,
        "client_secret": "literal:" + SECRET,
        "token_url": "https://id.example.com/oauth/v2/token",
    }
    values.update(kw)
    return TokenConfig(dialect=dialect, **values)  # type: ignore[arg-type]


def _decoded(endpoint) -> str:
    scheme, _, value = endpoint.last.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(value).decode()


def test_basic_credentials_are_form_urlencoded_before_base64(endpoint) -> None:
    """A client id or secret with ':' or non-ASCII reaches an RFC 6749 server intact."""
    TokenFetcher(_config(), http_client=endpoint.client(), validator=None).fetch()
    assert _decoded(endpoint) == f"{quote_plus(CLIENT_ID)}:{quote_plus(SECRET)}"


def test_raw_basic_encoding_sends_the_plain_pair(endpoint) -> None:
    """basic_auth_encoding = "raw" sends base64(id:secret) as a vendor document spells it."""
    cfg = _config({"basic_auth_encoding": "raw"})
    TokenFetcher(cfg, http_client=endpoint.client(), validator=None).fetch()
    assert _decoded(endpoint) == f"{CLIENT_ID}:{SECRET}"


def test_unknown_basic_encoding_is_a_configuration_error() -> None:
    """A typo in basic_auth_encoding is refused naming the setting."""
    from vendorgate import ConfigurationError

    with pytest.raises(ConfigurationError, match="basic_auth_encoding"):
        get_dialect("oauth2-basic").with_overrides({"basic_auth_encoding": "url"})


@pytest.mark.slow
def test_raw_encoding_is_accepted_by_the_003_vendor(sandbox) -> None:
    """The 003 vendor takes base64(client_id:client_secret) literally: raw works there."""
    sandbox.add_client("oauth2", "plain-id-1", client_secret=SECRET)
    cfg = _config(
        {"basic_auth_encoding": "raw"},
        client_id="plain-id-1",
        token_url=sandbox.token_url("oauth2"),
    )
    assert TokenFetcher(cfg).fetch().access_token


@pytest.mark.slow
def test_003_vendor_refuses_form_encoded_special_characters(sandbox) -> None:
    """The sandbox stays honest to the 003 document: it does not percent-decode Basic."""
    sandbox.add_client("oauth2", "plain-id-2", client_secret=SECRET)
    cfg = _config(client_id="plain-id-2", token_url=sandbox.token_url("oauth2"))
    with pytest.raises(TokenRequestError) as info:
        TokenFetcher(cfg, attempts=1).fetch()
    assert info.value.status == 401
