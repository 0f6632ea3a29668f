"""TLS failures are named (certificate, hostname), say what to set, and are not retried."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from test_tls_verify import _pki, _TokenHandler

from vendorgate import TransportError, VaultTransportError
from vendorgate.dialects import get_dialect
from vendorgate.http import RetryPolicy, VendorClient
from vendorgate.secrets import VaultSession, VaultSettings
from vendorgate.tokens import TokenConfig, TokenFetcher

pytestmark = pytest.mark.slow


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 (certificate for 127.0.0.1 from a private CA)."""
    ca, cert, key = _pki(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], ca
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "VAULT_CACERT"):
        monkeypatch.delenv(name, raising=False)


def _fetcher(url: str, **kw: object) -> TokenFetcher:
    config = TokenConfig(
        dialect=get_dialect("oauth2-post"),
        client_id="me",
        client_secret="literal:s3cret-value",
        token_url=url,
        **kw,  # type: ignore[arg-type]
    )
    return TokenFetcher(config, attempts=3)


def _retried(caplog: pytest.LogCaptureFixture) -> bool:
    return any("retry" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_token_endpoint_untrusted_certificate(https_server, caplog) -> None:  # type: ignore[no-untyped-def]
    """An untrusted certificate at the token endpoint is named, with verify=, not retried."""
    port, _ = https_server
    with pytest.raises(TransportError, match="certificate") as info:
        _fetcher(f"https://127.0.0.1:{port}/oauth/token").fetch()
    assert "verify=" in str(info.value)
    assert "DNS" not in str(info.value)
    assert not _retried(caplog)


def test_token_endpoint_hostname_mismatch(https_server, caplog) -> None:  # type: ignore[no-untyped-def]
    """A certificate for another host at the token endpoint is named a hostname mismatch."""
    port, ca = https_server
    with pytest.raises(TransportError, match="hostname") as info:
        _fetcher(f"https://localhost:{port}/oauth/token", verify=str(ca)).fetch()
    assert "verify=" in str(info.value)
    assert not _retried(caplog)


def test_api_untrusted_certificate(https_server, caplog) -> None:  # type: ignore[no-untyped-def]
    """An untrusted certificate at the API is named, with verify=, and not retried."""
    port, _ = https_server
    with (
        VendorClient(None, base_url=f"https://127.0.0.1:{port}", retry=RetryPolicy()) as client,
        pytest.raises(TransportError, match="certificate") as info,
    ):
        client.get("/items")
    assert "REQUESTS_CA_BUNDLE" in str(info.value)
    assert not _retried(caplog)


def test_vault_untrusted_certificate(https_server) -> None:  # type: ignore[no-untyped-def]
    """An untrusted certificate at Vault is named a certificate failure with what to set."""
    port, _ = https_server
    session = VaultSession(VaultSettings(url=f"https://127.0.0.1:{port}", token="t"))
    with pytest.raises(VaultTransportError, match="certificate") as info:
        session.health_status()
    assert "VAULT_CACERT" in str(info.value)
