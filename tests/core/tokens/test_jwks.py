"""JWKS validation of TCI access tokens: signature by kid, rotation, audience, expiry."""

from __future__ import annotations

import time

import pytest

from vendorgate import TokenValidationError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import JwksValidator, TokenConfig, TokenFetcher, clear_jwks_cache

pytestmark = pytest.mark.slow


class JwksCounter:
    """An httpx client that counts JWKS downloads."""

    def __init__(self) -> None:
        import httpx

        self.gets = 0

        def hook(request: httpx.Request) -> None:
            if request.method == "GET" and request.url.path.endswith("/jwks.json"):
                self.gets += 1

        self.client = httpx.Client(event_hooks={"request": [hook]})
        self.async_client = httpx.AsyncClient(event_hooks={"request": [self._ahook]})

    async def _ahook(self, request: object) -> None:
        self.gets += 1 if str(getattr(request, "url", "")).endswith("/jwks.json") else 0


def _tci(sandbox, **kw: object) -> TokenConfig:
    return TokenConfig(
        dialect=get_dialect("tci-atm"),
        client_id="demo-client",
        client_secret="literal:" + sandbox.demo_credentials("tci")["client_secret"].reveal(),
        token_url=sandbox.token_url("tci"),
        **kw,
    )


def _app_id(sandbox) -> str:
    return str(sandbox.config()["vendors"]["tci"]["application_id"])


def test_tci_jwks_url_is_next_to_the_token_url(sandbox) -> None:
    """The JWKS is found at /auth/.well-known/jwks.json beside the token endpoint."""
    assert _tci(sandbox).effective_jwks_url == sandbox.jwks_url()


def test_tci_tokens_are_verified_and_the_jwks_is_cached(sandbox) -> None:
    """Fetched TCI tokens are verified against the JWKS, which is fetched once."""
    counter = JwksCounter()
    f = TokenFetcher(_tci(sandbox), http_client=counter.client)
    assert f.validator is not None
    f.fetch()
    f.fetch()
    assert counter.gets == 1


def test_key_rotation_is_picked_up_by_one_refetch(sandbox) -> None:
    """After the vendor rotates its signing key, the unknown kid triggers one JWKS refetch."""
    counter = JwksCounter()
    f = TokenFetcher(_tci(sandbox), http_client=counter.client)
    f.fetch()
    sandbox.rotate_tci_key()
    f.fetch()
    assert counter.gets == 2


def test_unknown_kid_is_rejected_naming_the_kid(sandbox) -> None:
    """A token signed by a key missing from the JWKS fails naming the kid, not the token."""
    f = TokenFetcher(_tci(sandbox))
    good = f.fetch()
    import jwt

    kid = jwt.get_unverified_header(good.access_token)["kid"]
    sandbox.rotate_tci_key(keep_old=False)
    clear_jwks_cache()
    validator = JwksValidator(
        sandbox.jwks_url(), audience=_app_id(sandbox), min_refetch_interval_s=0
    )
    with pytest.raises(TokenValidationError) as info:
        validator.validate(good.access_token)
    assert kid in str(info.value)
    assert good.access_token not in str(info.value)


def test_unknown_kid_refetch_is_rate_limited(sandbox) -> None:
    """Tokens with unknown kids cannot make us hammer the JWKS endpoint."""
    f = TokenFetcher(_tci(sandbox))
    token = f.fetch()
    sandbox.rotate_tci_key(keep_old=False)
    clear_jwks_cache()
    validator = JwksValidator(
        sandbox.jwks_url(), audience=_app_id(sandbox), min_refetch_interval_s=60
    )
    counter = JwksCounter()
    for _ in range(3):
        with pytest.raises(TokenValidationError, match="unknown kid"):
            validator.validate(token.access_token, http_client=counter.client)
    assert counter.gets == 2  # the first fetch, then one refetch


def test_wrong_audience_is_rejected(sandbox) -> None:
    """A configured expected_audience the token does not carry is rejected, naming aud."""
    with pytest.raises(TokenValidationError, match=r"aud='T_.*expected 'someone-else'"):
        TokenFetcher(_tci(sandbox, expected_audience="someone-else")).fetch()


def test_default_tci_config_accepts_the_application_id_aud(sandbox) -> None:
    """By default tci-atm verifies signature, kid and exp but not aud (an app id, not clientId)."""
    token = TokenFetcher(_tci(sandbox)).fetch()
    assert token.access_token


def test_configured_expected_audience_is_accepted(sandbox) -> None:
    """Setting expected_audience to the vendor's application id passes validation."""
    f = TokenFetcher(_tci(sandbox, expected_audience=_app_id(sandbox)))
    assert f.validator is not None
    assert f.validator.audience == _app_id(sandbox)
    assert f.fetch().access_token


def test_expired_token_is_rejected_naming_exp(rsa_private_pem: str) -> None:
    """An expired access token fails validation naming kid and exp, never the token."""
    import httpx
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(rsa_private_pem.encode(), password=None)
    jwk = jwt.PyJWK.from_json(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))  # type: ignore[union-attr]
    jwks = {"keys": [{**jwk._jwk_data, "kid": "k1", "alg": "RS256", "use": "sig"}]}
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=jwks)))
    exp = int(time.time()) - 60
    token = jwt.encode(
        {"aud": "me", "exp": exp, "iat": exp - 600}, key, algorithm="RS256", headers={"kid": "k1"}
    )
    validator = JwksValidator("https://tci.test/auth/.well-known/jwks.json", audience="me")
    with pytest.raises(TokenValidationError, match=f"kid 'k1'.*exp={exp}") as info:
        validator.validate(token, http_client=client)
    assert token not in str(info.value)


def test_validation_can_be_turned_off(sandbox) -> None:
    """validate_tokens=False skips the JWKS (e.g. behind a gateway that re-signs)."""
    counter = JwksCounter()
    f = TokenFetcher(_tci(sandbox, validate_tokens=False), http_client=counter.client)
    assert f.validator is None
    f.fetch()
    assert counter.gets == 0


@pytest.mark.anyio
async def test_async_validation(sandbox) -> None:
    """The async fetch validates TCI tokens too."""
    counter = JwksCounter()
    fetcher = TokenFetcher(_tci(sandbox), async_http_client=counter.async_client)
    token = await fetcher.afetch()
    assert token.access_token
    assert counter.gets == 1
