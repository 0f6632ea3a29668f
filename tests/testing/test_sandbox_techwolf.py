"""TechWolf (document 000): Auth0-style JSON token endpoint, secret or private_key_jwt."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _secret_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "client_id": "demo-client",
        "client_secret": "demo-secret-techwolf",
        "audience": "eu3.techwolf.ai",
        "grant_type": "client_credentials",
        "tenant": "demo-tenant",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_document_basic_request_gets_document_reply(sandbox, http):
    """The document's basic JSON request gets access_token, expires_in 10800, scope, type."""
    r = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body())
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["expires_in"] == 10800
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write read_reports"


def test_scopes_array_narrows_the_granted_scope(sandbox, http):
    """A `scopes` JSON array yields exactly those scopes, space separated."""
    r = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body(scopes=["read", "write"]))
    assert r.status_code == 200
    assert r.json()["scope"] == "read write"


def test_scopes_as_string_is_malformed(sandbox, http):
    """`scopes` must be an array, as the document shows: a string is a 400."""
    r = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body(scopes="read write"))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_singular_scope_field_is_400_naming_scopes(sandbox, http):
    """A singular `scope` field is refused with 400 naming `scopes`, not granted every scope."""
    r = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body(scope="read"))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert "scopes" in r.json()["error_description"]


def test_deeply_nested_json_is_400(sandbox, http):
    """A JSON body nested too deeply to parse is a 400 JSON error, not a 500."""
    r = http.post(
        sandbox.token_url("techwolf-eu"),
        content=b"[" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_us_region_has_its_own_audience(sandbox, http):
    """The US token URL accepts us3.techwolf.ai and refuses the EU audience with 403."""
    url = sandbox.token_url("techwolf-us")
    assert http.post(url, json=_secret_body(audience="us3.techwolf.ai")).status_code == 200
    r = http.post(url, json=_secret_body(audience="eu3.techwolf.ai"))
    assert r.status_code == 403
    assert r.json()["error"] == "access_denied"


def test_wrong_secret_is_401_invalid_client(sandbox, http):
    """A wrong client secret gets Auth0's 401 invalid_client."""
    r = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body(client_secret="nope"))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_missing_tenant_is_400(sandbox, http):
    """A request without `tenant` is malformed: 400 naming the field."""
    r = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body(tenant=None))
    assert r.status_code == 400
    assert "tenant" in r.json()["error_description"]


def test_unknown_tenant_is_403(sandbox, http):
    """A tenant the client is not registered for gets 403 access_denied."""
    r = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body(tenant="other"))
    assert r.status_code == 403


def test_form_body_is_400(sandbox, http):
    """The endpoint is JSON only: an urlencoded body gets 400."""
    r = http.post(sandbox.token_url("techwolf-eu"), data=_secret_body())
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_token_opens_version_endpoint(sandbox, http):
    """The document's test call GET /version answers 200 with the token, 401 without."""
    token = http.post(sandbox.token_url("techwolf-eu"), json=_secret_body()).json()["access_token"]
    url = sandbox.url + "/techwolf-eu/version"
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert http.get(url).status_code == 401


def _assertion_body(assertion: str) -> dict[str, object]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "audience": "eu3.techwolf.ai",
        "tenant": "demo-tenant",
    }


def test_private_key_jwt_with_demo_key_gets_token(sandbox, http, make_assertion):
    """An RS256 assertion by demo-jwt-client (aud = token URL) gets a token."""
    url = sandbox.token_url("techwolf-eu")
    assertion = make_assertion(sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url)
    r = http.post(url, json=_assertion_body(assertion))
    assert r.status_code == 200
    assert r.json()["expires_in"] == 10800


def test_reused_jti_is_401(sandbox, http, make_assertion):
    """The same assertion (same jti) sent twice is refused the second time with 401."""
    url = sandbox.token_url("techwolf-eu")
    assertion = make_assertion(sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url)
    assert http.post(url, json=_assertion_body(assertion)).status_code == 200
    r = http.post(url, json=_assertion_body(assertion))
    assert r.status_code == 401
    assert "jti" in r.json()["error_description"]


def test_assertion_signed_by_another_key_is_401(sandbox, http, rsa_pems, make_assertion):
    """An assertion signed with a key that is not the registered one gets 401."""
    url = sandbox.token_url("techwolf-eu")
    r = http.post(url, json=_assertion_body(make_assertion(rsa_pems[0], "demo-jwt-client", url)))
    assert r.status_code == 401


def test_assertion_with_wrong_audience_is_401(sandbox, http, make_assertion):
    """The assertion's aud must be the token URL the client called."""
    url = sandbox.token_url("techwolf-eu")
    assertion = make_assertion(
        sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", sandbox.token_url("techwolf-us")
    )
    r = http.post(url, json=_assertion_body(assertion))
    assert r.status_code == 401
    assert "aud" in r.json()["error_description"]


def test_assertion_living_longer_than_ten_minutes_is_401(sandbox, http, make_assertion):
    """exp more than 10 minutes after iat is refused (the document: 5-10 minutes)."""
    url = sandbox.token_url("techwolf-eu")
    pem = sandbox.demo_private_key_pem.reveal()
    import time

    now = int(time.time())
    assertion = make_assertion(pem, "demo-jwt-client", url, iat=now, exp=now + 3600)
    assert http.post(url, json=_assertion_body(assertion)).status_code == 401


def test_expired_assertion_is_401(sandbox, http, make_assertion):
    """An assertion whose exp has passed is refused."""
    import time

    url = sandbox.token_url("techwolf-eu")
    now = int(time.time())
    assertion = make_assertion(
        sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url, iat=now - 900, exp=now - 600
    )
    assert http.post(url, json=_assertion_body(assertion)).status_code == 401


def test_assertion_without_jti_is_401(sandbox, http, make_assertion):
    """jti is required."""
    url = sandbox.token_url("techwolf-eu")
    assertion = make_assertion(
        sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url, jti=None
    )
    assert http.post(url, json=_assertion_body(assertion)).status_code == 401


def test_sub_differing_from_iss_is_401(sandbox, http, make_assertion):
    """iss and sub must both be the client id."""
    url = sandbox.token_url("techwolf-eu")
    assertion = make_assertion(
        sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url, sub="someone-else"
    )
    assert http.post(url, json=_assertion_body(assertion)).status_code == 401


def test_registered_ec_key_accepts_es256(sandbox, http, ec_pems, make_assertion):
    """A client registered with an EC P-256 public key may sign ES256 assertions."""
    sandbox.add_client("techwolf-eu", "ec-client", public_key_pem=ec_pems[1])
    url = sandbox.token_url("techwolf-eu")
    assertion = make_assertion(ec_pems[0], "ec-client", url, alg="ES256")
    assert http.post(url, json=_assertion_body(assertion)).status_code == 200


def test_registered_rsa_key_accepts_ps256(sandbox, http, rsa_pems, make_assertion):
    """A client registered with an RSA public key may also sign PS256 assertions."""
    sandbox.add_client("techwolf-eu", "ps-client", public_key_pem=rsa_pems[1])
    url = sandbox.token_url("techwolf-eu")
    assertion = make_assertion(rsa_pems[0], "ps-client", url, alg="PS256")
    assert http.post(url, json=_assertion_body(assertion)).status_code == 200


def test_wrong_assertion_type_is_400(sandbox, http, make_assertion):
    """client_assertion_type must be the jwt-bearer URN."""
    url = sandbox.token_url("techwolf-eu")
    body = _assertion_body(
        make_assertion(sandbox.demo_private_key_pem.reveal(), "demo-jwt-client", url)
    )
    body["client_assertion_type"] = "jwt"
    assert http.post(url, json=body).status_code == 400
