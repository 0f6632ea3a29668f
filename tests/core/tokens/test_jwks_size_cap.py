"""A JWKS URL answering with a huge or endless body: the validator stops reading at
MAX_JWKS_BYTES and says so, with the limit and the URL, never the body."""

from __future__ import annotations

import base64
import json

import pytest

from vendorgate import TokenValidationError
from vendorgate.testing.sandbox import Faults
from vendorgate.tokens import MAX_JWKS_BYTES, JwksValidator, clear_jwks_cache

pytestmark = pytest.mark.slow


def _b64(data: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# Only its header is read before the JWKS is fetched: alg and kid.
_TOKEN = f"{_b64({'alg': 'RS256', 'kid': 'k1', 'typ': 'JWT'})}.{_b64({'sub': 'x'})}.c2ln"


# The cap plus what loopback socket buffers hold; the server's ceiling is 64 MiB.
_NEAR_THE_CAP = MAX_JWKS_BYTES + 16 * 1024 * 1024


@pytest.fixture(autouse=True)
def _no_cached_jwks():
    clear_jwks_cache()
    yield
    clear_jwks_cache()


def _assert_names_the_cap(message: str, url: str) -> None:
    assert f"larger than {MAX_JWKS_BYTES // 1024} KiB" in message, message
    assert "MAX_JWKS_BYTES" in message, message
    assert url in message, message
    assert "xxxx" not in message


def test_an_endless_jwks_stops_at_the_cap(endless_server) -> None:
    """A chunked reply without end: reading stops near the cap, a typed error follows."""
    endless_server.prefix = b'{"keys": [{"kty": "'
    url = endless_server.url + "/jwks.json?sig=do-not-show"
    with pytest.raises(TokenValidationError) as err:
        JwksValidator(url).key_for(_TOKEN)
    _assert_names_the_cap(str(err.value), endless_server.url + "/jwks.json")
    assert "do-not-show" not in str(err.value)
    assert endless_server.sent[-1] < _NEAR_THE_CAP, (
        f"the validator read {endless_server.sent[-1]:,} bytes of an endless JWKS"
    )


@pytest.mark.anyio
async def test_an_endless_jwks_stops_at_the_cap_async(endless_server) -> None:
    """The async fetch is capped the same way."""
    endless_server.prefix = b'{"keys": [{"kty": "'
    with pytest.raises(TokenValidationError) as err:
        await JwksValidator(endless_server.url + "/jwks.json").akey_for(_TOKEN)
    _assert_names_the_cap(str(err.value), endless_server.url + "/jwks.json")
    assert endless_server.sent[-1] < _NEAR_THE_CAP


def test_a_huge_jwks_from_the_sandbox_is_refused(sandbox) -> None:
    """The sandbox's huge_body_bytes fault on the JWKS path: refused by its size."""
    sandbox.set_faults(Faults(path="*/jwks.json", huge_body_bytes=4 * MAX_JWKS_BYTES))
    with pytest.raises(TokenValidationError) as err:
        JwksValidator(sandbox.jwks_url()).key_for(_TOKEN)
    _assert_names_the_cap(str(err.value), sandbox.jwks_url())


def test_a_jwks_just_under_the_cap_is_read(sandbox) -> None:
    """A body at the cap is read and judged on its content, not its size."""
    sandbox.set_faults(Faults(path="*/jwks.json", huge_body_bytes=MAX_JWKS_BYTES))
    with pytest.raises(TokenValidationError, match="not a usable key set"):
        JwksValidator(sandbox.jwks_url()).key_for(_TOKEN)
