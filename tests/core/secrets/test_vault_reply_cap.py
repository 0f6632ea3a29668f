"""A Vault (or something answering at VAULT_ADDR) that sends an endless reply: vendorgate
stops reading at MAX_VAULT_REPLY_BYTES and raises a typed error naming the limit and URL."""

from __future__ import annotations

import pytest

from vendorgate import CacheError, Secret, VaultUnavailableError
from vendorgate.cache import VaultKVStore
from vendorgate.secrets import MAX_VAULT_REPLY_BYTES, VaultSession, VaultSettings, parse_secret_ref

pytestmark = pytest.mark.slow

_TOKEN = "hvs.do-not-show-this-token"  # a test value, checked absent from errors
_LOOKUP = {"data": {"ttl": 0, "renewable": False}}
_MOUNTS = {"data": {"path": "secret/", "options": {"version": "2"}}}


def _session(server) -> VaultSession:
    server.replies["/v1/auth/token/lookup-self"] = _LOOKUP
    server.replies["/v1/sys/internal/ui/mounts/secret/app"] = _MOUNTS
    return VaultSession(VaultSettings(url=server.url, token=Secret(_TOKEN), timeout_s=10))


def _stopped_early(server) -> None:
    """The reply was cut off near the cap (plus what loopback socket buffers hold), not
    read to the server's 64 MiB ceiling."""
    assert server.sent, "the endless reply was never asked for"
    assert server.sent[-1] < MAX_VAULT_REPLY_BYTES + 16 * 1024 * 1024, (
        f"the client read {server.sent[-1]:,} bytes of an endless reply "
        f"(cap {MAX_VAULT_REPLY_BYTES:,})"
    )


def _names_the_cap(message: str, server, path: str) -> None:
    assert "larger than 4 MiB" in message, message
    assert "MAX_VAULT_REPLY_BYTES" in message, message
    assert f"{server.url}{path}" in message, message
    assert _TOKEN not in message
    assert "xxxx" not in message


def test_an_endless_kv_read_stops_at_the_cap(endless_server) -> None:
    """A KV read whose reply never ends: VaultUnavailableError naming limit and URL."""
    session = _session(endless_server)
    with pytest.raises(VaultUnavailableError) as err:
        session.read_secret(parse_secret_ref("vault:secret/app#password", field="client_secret"))
    _names_the_cap(str(err.value), endless_server, "/v1/secret/data/app")
    assert "vault:secret/app#password" in str(err.value)
    _stopped_early(endless_server)


def test_an_endless_login_reply_stops_at_the_cap(endless_server) -> None:
    """The first request (token lookup at login) is capped too."""
    session = VaultSession(VaultSettings(url=endless_server.url, token=Secret(_TOKEN)))
    with pytest.raises(VaultUnavailableError) as err:
        session.client()
    _names_the_cap(str(err.value), endless_server, "/v1/auth/token/lookup-self")
    _stopped_early(endless_server)


def test_an_endless_transit_signature_stops_at_the_cap(endless_server) -> None:
    """A transit sign reply that never ends."""
    session = _session(endless_server)
    with pytest.raises(VaultUnavailableError) as err:
        session.transit_sign("transit", "vendor-key", b"payload")
    _names_the_cap(str(err.value), endless_server, "/v1/transit/sign/vendor-key")
    _stopped_early(endless_server)


def test_the_vault_token_cache_is_capped_through_the_session(endless_server) -> None:
    """The Vault token store reads through the same session, so through the same cap."""
    store = VaultKVStore(_session(endless_server))
    with pytest.raises(CacheError) as err:
        store.get("entry")
    assert "MAX_VAULT_REPLY_BYTES" in str(err.value)
    _stopped_early(endless_server)


def test_a_declared_huge_reply_is_refused_before_reading(endless_server) -> None:
    """A Content-Length over the cap: refused on the header, the body is not read."""
    endless_server.declared_length = 64 * 1024 * 1024
    session = _session(endless_server)
    with pytest.raises(VaultUnavailableError) as err:
        session.read_secret(parse_secret_ref("vault:secret/app#password", field="client_secret"))
    _names_the_cap(str(err.value), endless_server, "/v1/secret/data/app")
    _stopped_early(endless_server)


def test_a_reply_at_the_cap_is_read(endless_server) -> None:
    """A body of exactly MAX_VAULT_REPLY_BYTES is read and judged on its content."""
    endless_server.prefix = b"x"
    endless_server.ceiling = MAX_VAULT_REPLY_BYTES
    session = _session(endless_server)
    with pytest.raises(VaultUnavailableError, match="not a Vault reply during read"):
        session.read_secret(parse_secret_ref("vault:secret/app#password", field="client_secret"))
    assert endless_server.sent == [MAX_VAULT_REPLY_BYTES]
