"""Lone Wolf (document 001): JSON token request, 24 h tokens, 403 for a bad token."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "grant_type": "client_credentials",
        "client_id": "demo-client",
        "client_secret": "demo-secret-lonewolf",
        "audience": "https://api.lwolf.com",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_document_request_gets_document_reply(sandbox, http):
    """The document's cURL request gets access_token, token_type Bearer, expires_in 86400."""
    r = http.post(sandbox.token_url("lonewolf"), json=_body())
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 86400)


def test_lwt_client_id_is_accepted(sandbox, http):
    """The optional lwt_client_id (multi-tenant customer instance) is accepted."""
    r = http.post(sandbox.token_url("lonewolf"), json=_body(lwt_client_id="customer-42"))
    assert r.status_code == 200


def test_wrong_secret_is_401(sandbox, http):
    """Invalid credentials get 401, as the document's error table says."""
    r = http.post(sandbox.token_url("lonewolf"), json=_body(client_secret="wrong"))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_missing_audience_is_400(sandbox, http):
    """A malformed request (audience missing) gets 400."""
    r = http.post(sandbox.token_url("lonewolf"), json=_body(audience=None))
    assert r.status_code == 400
    assert "audience" in r.json()["error_description"]


def test_wrong_field_name_is_400(sandbox, http):
    """camelCase clientId instead of client_id is malformed: 400."""
    body = _body(client_id=None)
    body["clientId"] = "demo-client"
    assert http.post(sandbox.token_url("lonewolf"), json=body).status_code == 400


def test_form_body_is_400(sandbox, http):
    """The endpoint takes JSON only: a form body gets 400."""
    assert http.post(sandbox.token_url("lonewolf"), data=_body()).status_code == 400


def test_bad_token_on_api_is_403(sandbox, http):
    """The data API answers 403 for an invalid token (the document's 'token expired/invalid')."""
    r = http.get(sandbox.api_url("lonewolf") + "/items", headers={"Authorization": "Bearer junk"})
    assert r.status_code == 403


def test_revoked_token_on_api_is_403(sandbox, http):
    """A token revoked by the test gets 403 from the data API."""
    token = http.post(sandbox.token_url("lonewolf"), json=_body()).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get(sandbox.api_url("lonewolf") + "/items", headers=headers).status_code == 200
    assert sandbox.revoke_token(token) == 1
    assert http.get(sandbox.api_url("lonewolf") + "/items", headers=headers).status_code == 403
