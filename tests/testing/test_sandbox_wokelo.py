"""Wokelo (document 004): form-data at /auth/token/ (with the slash), password and refresh."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _fields(**overrides: str) -> dict[str, str]:
    fields = {
        "client_id": "demo-client",
        "client_secret": "demo-secret-wokelo",
        "username": "demo@example.com",
        "password": "demo-password",
        "grant_type": "password",
    }
    fields.update(overrides)
    return fields


def _multipart(fields: dict[str, str]) -> dict[str, tuple[None, str]]:
    return {k: (None, v) for k, v in fields.items()}


def test_form_data_request_gets_document_reply(sandbox, http):
    """multipart/form-data, as the document says, gets the document's five reply fields."""
    r = http.post(sandbox.token_url("wokelo"), files=_multipart(_fields()))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (
        2628288,
        "Bearer",
        "read write",
    )


def test_json_request_from_curl_sample_works(sandbox, http):
    """The document's cURL sample sends JSON: accepted too."""
    assert http.post(sandbox.token_url("wokelo"), json=_fields()).status_code == 200


def test_urlencoded_request_is_415(sandbox, http):
    """An urlencoded form, which the document never shows, gets 415 with a JSON detail."""
    r = http.post(sandbox.token_url("wokelo"), data=_fields())
    assert r.status_code == 415
    assert "application/x-www-form-urlencoded" in r.json()["detail"]


def test_path_without_trailing_slash_is_404(sandbox, http):
    """/auth/token without the slash is a JSON 404 that names the right path."""
    url = sandbox.token_url("wokelo").rstrip("/")
    r = http.post(url, files=_multipart(_fields()))
    assert r.status_code == 404
    assert "/wokelo/auth/token/" in r.json()["error_description"]


def test_other_content_type_is_415(sandbox, http):
    """A text/plain body gets 415 with a JSON detail."""
    r = http.post(sandbox.token_url("wokelo"), content="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert "detail" in r.json()


def test_wrong_password_is_401(sandbox, http):
    """A wrong user password gets 401."""
    r = http.post(sandbox.token_url("wokelo"), files=_multipart(_fields(password="nope")))
    assert r.status_code == 401


def test_wrong_client_secret_is_401(sandbox, http):
    """A wrong client secret gets 401."""
    r = http.post(sandbox.token_url("wokelo"), files=_multipart(_fields(client_secret="nope")))
    assert r.status_code == 401


def test_missing_username_is_400(sandbox, http):
    """A request without username is malformed: 400 naming the field."""
    fields = _fields()
    del fields["username"]
    r = http.post(sandbox.token_url("wokelo"), files=_multipart(fields))
    assert r.status_code == 400
    assert "username" in r.json()["error_description"]


def test_refresh_grant_rotates_refresh_token(sandbox, http):
    """A refresh grant returns a new access and refresh token; the old refresh token dies."""
    first = http.post(sandbox.token_url("wokelo"), files=_multipart(_fields())).json()
    refresh = {
        "client_id": "demo-client",
        "client_secret": "demo-secret-wokelo",
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
    }
    r = http.post(sandbox.token_url("wokelo"), files=_multipart(refresh))
    assert r.status_code == 200
    second = r.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert http.post(sandbox.token_url("wokelo"), files=_multipart(refresh)).status_code == 401
