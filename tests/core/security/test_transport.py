"""Plain http:// to another host is refused unless opted in; TLS settings are honoured."""

from __future__ import annotations

import httpx
import pytest

from vendorgate import ConfigurationError
from vendorgate.dialects import get_dialect
from vendorgate.secrets import VaultSettings
from vendorgate.tokens import Token, TokenConfig

ENV = "VENDORGATE_ALLOW_INSECURE_HTTP"


@pytest.fixture(autouse=True)
def _no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def _config(url: str, **kw: object) -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("oauth2-post"),
        client_id="me",
        client_secret="env:X_SECRET",
        token_url=url,
        **kw,  # type: ignore[arg-type]
    )


def test_plain_http_token_url_to_another_host_is_refused() -> None:
    """A client secret is never configured to cross the network in clear by accident."""
    with pytest.raises(ConfigurationError, match=r"token_url.*plain http://"):
        _config("http://id.example.com/oauth/token")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/token", "http://localhost/token", "http://[::1]:9/token"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    """Local sandboxes and dev servers on loopback need no opt-in."""
    assert _config(url).token_url == url


def test_plain_http_is_allowed_by_the_named_setting() -> None:
    """allow_insecure_http=True is the explicit per-config opt-in."""
    assert _config("http://id.internal/token", allow_insecure_http=True).allow_insecure_http


def test_plain_http_is_allowed_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """VENDORGATE_ALLOW_INSECURE_HTTP=1 opts a whole process in (as oauthlib's variable)."""
    monkeypatch.setenv(ENV, "1")
    assert _config("http://id.internal/token").token_url == "http://id.internal/token"


def test_url_schemes_are_case_insensitive() -> None:
    """HTTPS:// is a valid token URL."""
    assert _config("HTTPS://id.example.com/token").effective_token_url.startswith("HTTPS")


def test_plain_http_vault_address_is_refused() -> None:
    """The Vault token is not sent to a remote Vault over plain HTTP without an opt-in."""
    with pytest.raises(ConfigurationError, match=r"vault\.url"):
        VaultSettings(url="http://vault.example.com:8200", token_ref="env:VAULT_TOKEN")
    ok = VaultSettings(
        url="http://vault.example.com:8200", token_ref="env:VAULT_TOKEN", allow_insecure_http=True
    )
    assert ok.to_mapping()["allow_insecure_http"] is True


def test_vault_loopback_dev_server_is_allowed() -> None:
    """A dev server at http://127.0.0.1:8200 keeps working."""
    assert VaultSettings(url="http://127.0.0.1:8200", token_ref="env:T").url.startswith("http:")


class _Source:
    vendor = "acme"
    invalid_token_statuses = frozenset({401})

    def __init__(self, config: TokenConfig) -> None:
        self.config = config

    def get_token(self) -> Token:
        return Token(access_token="at-secret-1", expires_at=4e9, issued_at=0.0)


def test_bearer_token_is_not_sent_over_plain_http_to_another_host() -> None:
    """An API call to http://remote with a token is refused before anything is sent."""
    from vendorgate.http import VendorClient

    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={}))
    client = VendorClient(
        _Source(_config("https://id.example.com/token")),  # type: ignore[arg-type]
        transport=transport,
    )
    with pytest.raises(ConfigurationError, match="url"):
        client.http.get("http://api.example.com/items")
    assert sent == []


def test_verify_setting_is_validated() -> None:
    """verify takes true/false or a CA bundle path; anything else names the field."""
    with pytest.raises(ConfigurationError, match="verify"):
        _config("https://id.example.com/token", verify=3)


def test_ca_bundle_from_requests_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """REQUESTS_CA_BUNDLE (as requests users set it) selects the CA bundle for token calls."""
    import ssl

    from vendorgate._url import tls_verify

    bundle = tmp_path / "ca.pem"
    bundle.write_text(_self_signed_pem())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert isinstance(tls_verify(None), ssl.SSLContext)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert tls_verify(None) is True


def _self_signed_pem() -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vendorgate test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
