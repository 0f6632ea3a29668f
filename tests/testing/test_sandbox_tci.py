"""TCI ATM (document 002): camelCase JSON, grant_types vs grantType, RS256 tokens, JWKS."""

from __future__ import annotations

import jwt
import pytest

pytestmark = pytest.mark.slow


def _body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "clientId": "demo-client",
        "clientSecret": "demo-secret-tci",
        "grant_types": "client_credentials",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def _token(sandbox, http) -> dict[str, object]:
    r = http.post(sandbox.token_url("tci"), json=_body())
    assert r.status_code == 200
    return r.json()


def test_document_request_gets_document_reply(sandbox, http):
    """The document's payload gets access_token and exp_access_token 600 (+ refresh, id tokens)."""
    body = _token(sandbox, http)
    assert set(body) == {"access_token", "exp_access_token", "refresh_token", "id_token"}
    assert body["exp_access_token"] == 600


def test_snake_case_grant_type_is_400(sandbox, http):
    """grant_type instead of the document's grant_types is a 400."""
    body = _body(grant_types=None, grant_type="client_credentials")
    assert http.post(sandbox.token_url("tci"), json=body).status_code == 400


def test_snake_case_client_id_is_400(sandbox, http):
    """client_id instead of camelCase clientId is a 400 naming the right field."""
    body = _body(clientId=None, client_id="demo-client")
    r = http.post(sandbox.token_url("tci"), json=body)
    assert r.status_code == 400
    assert "clientId" in r.json()["error_description"]


def test_wrong_secret_is_401(sandbox, http):
    """A wrong clientSecret gets 401."""
    assert http.post(sandbox.token_url("tci"), json=_body(clientSecret="x")).status_code == 401


def test_form_body_is_400(sandbox, http):
    """The endpoint takes JSON only."""
    assert http.post(sandbox.token_url("tci"), data=_body()).status_code == 400


def test_access_token_verifies_against_jwks(sandbox, http):
    """The access token is an RS256 JWT (iss atm, aud the app id) verifiable via the JWKS by kid."""
    token = _token(sandbox, http)["access_token"]
    client = jwt.PyJWKClient(sandbox.jwks_url())
    key = client.get_signing_key_from_jwt(token)
    app_id = sandbox.config()["vendors"]["tci"]["application_id"]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=app_id)
    assert claims["iss"] == "atm"
    assert claims["exp"] - claims["iat"] == 600


def test_access_token_aud_is_an_application_id_not_the_client_id(sandbox, http):
    """As in document 002, the access token's aud is an application id unlike the clientId."""
    token = _token(sandbox, http)["access_token"]
    aud = jwt.decode(token, options={"verify_signature": False})["aud"]
    assert aud == sandbox.config()["vendors"]["tci"]["application_id"]
    assert aud.startswith("T_")
    assert aud != "demo-client"


def test_rotated_key_signs_new_tokens_and_old_ones_still_verify(sandbox, http):
    """After rotate_tci_key() new tokens carry the new kid; the JWKS still lists the old key."""
    old = _token(sandbox, http)["access_token"]
    kid = sandbox.rotate_tci_key()
    new = _token(sandbox, http)["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == kid
    client = jwt.PyJWKClient(sandbox.jwks_url(), cache_keys=False)
    app_id = sandbox.config()["vendors"]["tci"]["application_id"]
    for token in (old, new):
        key = client.get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], audience=app_id)


def test_refresh_with_grant_type_key_gets_new_access_token(sandbox, http):
    """The document's refresh payload (grantType: refresh_token) returns a new access token."""
    first = _token(sandbox, http)
    r = http.post(
        sandbox.token_url("tci"),
        json={
            "clientId": "demo-client",
            "refresh_token": first["refresh_token"],
            "id_token": first["id_token"],
            "grantType": "refresh_token",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["exp_access_token"] == 600
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] == first["refresh_token"]


def test_refresh_with_grant_types_key_is_400(sandbox, http):
    """The refresh request names its grant grantType: grant_types there is a 400."""
    first = _token(sandbox, http)
    r = http.post(
        sandbox.token_url("tci"),
        json={
            "clientId": "demo-client",
            "refresh_token": first["refresh_token"],
            "id_token": first["id_token"],
            "grant_types": "refresh_token",
        },
    )
    assert r.status_code == 400


def test_refresh_with_revoked_refresh_token_is_401(sandbox, http):
    """A revoked refresh token no longer refreshes."""
    first = _token(sandbox, http)
    sandbox.revoke_token(first["refresh_token"])
    r = http.post(
        sandbox.token_url("tci"),
        json={
            "clientId": "demo-client",
            "refresh_token": first["refresh_token"],
            "id_token": first["id_token"],
            "grantType": "refresh_token",
        },
    )
    assert r.status_code == 401


def test_refresh_with_foreign_id_token_is_401(sandbox, http):
    """The id_token must be the one issued with the refresh token."""
    first, second = _token(sandbox, http), _token(sandbox, http)
    r = http.post(
        sandbox.token_url("tci"),
        json={
            "clientId": "demo-client",
            "refresh_token": first["refresh_token"],
            "id_token": second["id_token"],
            "grantType": "refresh_token",
        },
    )
    assert r.status_code == 401
