"""Generic OAuth 2.0 (document 003): form body, Basic auth, 401 vs 403 on the API."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.slow

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}", **FORM}


def _token(sandbox, http, client_id: str = "demo-client") -> str:
    r = http.post(
        sandbox.token_url("oauth2"),
        content="grant_type=client_credentials",
        headers=_basic(client_id, "demo-secret-oauth2"),
    )
    assert r.status_code == 200
    return r.json()["access_token"]


def test_document_request_gets_document_reply(sandbox, http):
    """Basic auth + form grant_type gets token_type, expires_in 3600 and a JWT access_token."""
    r = http.post(
        sandbox.token_url("oauth2"),
        content="grant_type=client_credentials",
        headers=_basic("demo-client", "demo-secret-oauth2"),
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"token_type", "expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["access_token"].count(".") == 2


def test_wrong_secret_is_401_with_basic_challenge(sandbox, http):
    """Invalid credentials get 401 and a WWW-Authenticate: Basic challenge."""
    r = http.post(
        sandbox.token_url("oauth2"),
        content="grant_type=client_credentials",
        headers=_basic("demo-client", "wrong"),
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")


def test_json_body_is_400(sandbox, http):
    """The body must be application/x-www-form-urlencoded: JSON gets 400."""
    headers = _basic("demo-client", "demo-secret-oauth2")
    del headers["Content-Type"]
    r = http.post(
        sandbox.token_url("oauth2"), json={"grant_type": "client_credentials"}, headers=headers
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_other_grant_is_unsupported_grant_type(sandbox, http):
    """grant_type=password is refused with 400 unsupported_grant_type."""
    r = http.post(
        sandbox.token_url("oauth2"),
        content="grant_type=password",
        headers=_basic("demo-client", "demo-secret-oauth2"),
    )
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_client_secret_post_works(sandbox, http):
    """client_id and client_secret in the form body (oauth2-post preset) get a token."""
    r = http.post(
        sandbox.token_url("oauth2"),
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret-oauth2",
        },
    )
    assert r.status_code == 200


def test_client_restricted_to_basic_cannot_post_secret(sandbox, http):
    """A client registered for client_secret_basic only is refused in the body."""
    sandbox.add_client(
        "oauth2", "basic-only", client_secret="s3cret", auth_methods=["client_secret_basic"]
    )
    r = http.post(
        sandbox.token_url("oauth2"),
        data={
            "grant_type": "client_credentials",
            "client_id": "basic-only",
            "client_secret": "s3cret",
        },
    )
    assert r.status_code == 401


def test_private_key_jwt_form_works(sandbox, http, make_assertion):
    """RFC 7523 client_assertion in the form body (oauth2-private-key-jwt preset) gets a token."""
    url = sandbox.token_url("oauth2-private-key-jwt")
    assertion = make_assertion(sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url)
    r = http.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion,
        },
    )
    assert r.status_code == 200


def test_private_key_jwt_reused_jti_is_401(sandbox, http, make_assertion):
    """RFC 7523: the same assertion (same jti) sent twice is refused the second time, 401."""
    url = sandbox.token_url("oauth2-private-key-jwt")
    assertion = make_assertion(sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url)
    body = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    assert http.post(url, data=body).status_code == 200
    r = http.post(url, data=body)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "jti" in r.json()["error_description"]


def test_missing_permission_is_403_and_bad_token_is_401(sandbox, http):
    """/reports needs scope 'reports': 403 for a client without it, 401 for a bad token."""
    url = sandbox.api_url("oauth2") + "/reports"
    good = _token(sandbox, http, "demo-client")
    readonly = _token(sandbox, http, "demo-readonly")
    assert http.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 200
    assert http.get(url, headers={"Authorization": f"Bearer {readonly}"}).status_code == 403
    assert http.get(url, headers={"Authorization": "Bearer junk"}).status_code == 401


def test_requested_scope_outside_registration_is_invalid_scope(sandbox, http):
    """A scope the client is not registered for gets 400 invalid_scope."""
    r = http.post(
        sandbox.token_url("oauth2"),
        content="grant_type=client_credentials&scope=reports",
        headers=_basic("demo-readonly", "demo-secret-oauth2"),
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"
