"""The token request on the wire matches each vendor document (unit tests, MockTransport)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest

from vendorgate.dialects import ASSERTION_TYPE_JWT_BEARER, get_dialect
from vendorgate.tokens import Token, TokenConfig, TokenFetcher


def _fetcher(endpoint, **kwargs: object) -> TokenFetcher:
    preset = kwargs.pop("preset")
    cfg = TokenConfig(dialect=get_dialect(str(preset)), **kwargs)
    return TokenFetcher(cfg, http_client=endpoint.client(), validator=None)


def _form(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _multipart(request) -> dict[str, str]:
    from email.parser import BytesParser
    from email.policy import HTTP

    ctype = request.headers["content-type"]
    msg = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + request.content
    )
    out = {}
    for part in msg.iter_parts():
        assert part.get_filename() is None
        out[part.get_param("name", header="content-disposition")] = part.get_content()
    return out


def test_techwolf_client_secret_is_json_with_tenant_audience_and_scopes_array(endpoint) -> None:
    """TechWolf gets the 000 document's JSON body, scopes as a JSON array."""
    _fetcher(
        endpoint,
        preset="techwolf-eu",
        client_id="cid",
        client_secret="literal:sec",
        tenant="acme",
        scopes=("read", "write"),
    ).fetch()
    req = endpoint.last
    assert str(req.url) == "https://techwolf.eu.auth0.com/oauth/token"
    assert req.headers["content-type"] == "application/json"
    assert endpoint.last_json() == {
        "client_id": "cid",
        "client_secret": "sec",
        "audience": "eu3.techwolf.ai",
        "grant_type": "client_credentials",
        "tenant": "acme",
        "scopes": ["read", "write"],
    }


def test_techwolf_private_key_jwt_assertion_claims(
    endpoint, rsa_private_pem: str, monkeypatch
) -> None:
    """TechWolf private_key_jwt: iss=sub=client id, aud=token URL, 5 min, unique jti, RS256."""
    import jwt

    monkeypatch.setenv("TW_KEY", rsa_private_pem)
    f = _fetcher(
        endpoint, preset="techwolf-us", client_id="cid", private_key="env:TW_KEY", tenant="t"
    )
    f.fetch()
    f.fetch()
    bodies = [json.loads(r.content) for r in endpoint.requests]
    body = bodies[0]
    assert "client_secret" not in body
    assert "client_id" not in body
    assert body["client_assertion_type"] == ASSERTION_TYPE_JWT_BEARER
    assert body["audience"] == "us3.techwolf.ai"
    assert jwt.get_unverified_header(body["client_assertion"])["alg"] == "RS256"
    claims = [
        jwt.decode(b["client_assertion"], options={"verify_signature": False}) for b in bodies
    ]
    c = claims[0]
    assert c["iss"] == c["sub"] == "cid"
    assert c["aud"] == "https://techwolf-us.us.auth0.com/oauth/token"
    assert c["exp"] - c["iat"] == 300
    assert claims[0]["jti"] != claims[1]["jti"]


def test_lonewolf_json_with_fixed_audience_and_lwt_client_id(endpoint) -> None:
    """Lone Wolf gets grant_type, client credentials, its fixed audience and lwt_client_id."""
    _fetcher(
        endpoint,
        preset="lonewolf",
        client_id="cid",
        client_secret="literal:sec",
        extra_params={"lwt_client_id": "cust-42"},
    ).fetch()
    assert endpoint.last.headers["content-type"] == "application/json"
    assert endpoint.last_json() == {
        "grant_type": "client_credentials",
        "client_id": "cid",
        "client_secret": "sec",
        "audience": "https://api.lwolf.com",
        "lwt_client_id": "cust-42",
    }


def test_tci_camel_case_and_grant_types(endpoint) -> None:
    """TCI gets clientId/clientSecret and the plural grant_types key."""
    endpoint.replies.append(
        __import__("httpx").Response(200, json={"access_token": "a", "exp_access_token": 600})
    )
    cfg = TokenConfig(
        dialect=get_dialect("tci-atm"),
        client_id="cid",
        client_secret="literal:sec",
        validate_tokens=False,
    )
    TokenFetcher(cfg, http_client=endpoint.client()).fetch()
    assert str(endpoint.last.url) == "https://api.dev.token.tci-pf.net/auth/token"
    assert endpoint.last_json() == {
        "clientId": "cid",
        "clientSecret": "sec",
        "grant_types": "client_credentials",
    }


def test_tci_refresh_request_shape(endpoint) -> None:
    """TCI's refresh request is {clientId, refresh_token, id_token, grantType}."""
    cfg = TokenConfig(
        dialect=get_dialect("tci-atm"),
        client_id="cid",
        client_secret="literal:sec",
        validate_tokens=False,
    )
    prev = Token("old", expires_at=0, issued_at=0, refresh_token="rt", id_token="idt")
    TokenFetcher(cfg, http_client=endpoint.client()).fetch(prev)
    assert endpoint.last_json() == {
        "clientId": "cid",
        "refresh_token": "rt",
        "id_token": "idt",
        "grantType": "refresh_token",
    }


def test_oauth2_basic_uses_basic_header_and_form_body(endpoint) -> None:
    """003: Authorization Basic base64(id:secret), form-urlencoded grant_type only."""
    _fetcher(
        endpoint,
        preset="oauth2-basic",
        client_id="cid",
        client_secret="literal:sec",
        token_url="https://api.example.com/oauth/v2/token",
    ).fetch()
    req = endpoint.last
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"cid:sec").decode()
    assert _form(req) == {"grant_type": "client_credentials"}


def test_oauth2_post_puts_the_secret_in_the_form(endpoint) -> None:
    """client_secret_post sends client_id and client_secret as form fields, no Basic header."""
    _fetcher(
        endpoint,
        preset="oauth2-post",
        client_id="cid",
        client_secret="literal:sec",
        token_url="https://x.test/token",
        scopes=("read", "reports"),
    ).fetch()
    assert "authorization" not in endpoint.last.headers
    assert _form(endpoint.last) == {
        "grant_type": "client_credentials",
        "client_id": "cid",
        "client_secret": "sec",
        "scope": "read reports",
    }


def test_oauth2_private_key_jwt_form(endpoint, rsa_private_pem: str, monkeypatch) -> None:
    """RFC 7523: client_assertion_type and client_assertion in the form body."""
    monkeypatch.setenv("KEY_PEM", rsa_private_pem)
    _fetcher(
        endpoint,
        preset="oauth2-private-key-jwt",
        client_id="cid",
        private_key="env:KEY_PEM",
        token_url="https://x.test/token",
        signing_kid="k1",
    ).fetch()
    form = _form(endpoint.last)
    assert form["client_assertion_type"] == ASSERTION_TYPE_JWT_BEARER
    assert form["client_id"] == "cid"
    import jwt

    assert jwt.get_unverified_header(form["client_assertion"])["kid"] == "k1"


def test_wokelo_password_grant_is_multipart_to_trailing_slash(endpoint) -> None:
    """Wokelo gets multipart form-data at /auth/token/ with the five documented fields."""
    _fetcher(
        endpoint,
        preset="wokelo",
        client_id="cid",
        client_secret="literal:sec",
        username="literal:me@example.com",
        password="literal:pw",
    ).fetch()
    req = endpoint.last
    assert str(req.url) == "https://api.wokelo.ai/auth/token/"
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert _multipart(req) == {
        "client_id": "cid",
        "client_secret": "sec",
        "username": "me@example.com",
        "password": "pw",
        "grant_type": "password",
    }


def test_wokelo_refresh_is_multipart_with_client_credentials(endpoint) -> None:
    """Wokelo's refresh: grant_type=refresh_token, refresh_token and client credentials."""
    f = _fetcher(
        endpoint,
        preset="wokelo",
        client_id="cid",
        client_secret="literal:sec",
        username="literal:me@example.com",
        password="literal:pw",
    )
    f.fetch(Token("old", expires_at=0, issued_at=0, refresh_token="rt"))
    assert _multipart(endpoint.last) == {
        "grant_type": "refresh_token",
        "client_id": "cid",
        "client_secret": "sec",
        "refresh_token": "rt",
    }


@pytest.mark.parametrize("preset", ["lonewolf", "oauth2-post"])
def test_no_refresh_grant_for_dialects_without_refresh(endpoint, preset: str) -> None:
    """Dialects that keep no refresh token always use the primary grant."""
    f = _fetcher(
        endpoint,
        preset=preset,
        client_id="cid",
        client_secret="literal:sec",
        token_url="https://x.test/token",
    )
    f.fetch(Token("old", expires_at=0, issued_at=0, refresh_token="rt"))
    assert b"refresh_token" not in endpoint.last.content
