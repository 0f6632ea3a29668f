"""Counters, client registration, addresses, secrecy, and the subprocess mode."""

from __future__ import annotations

import psutil
import pytest

from vendorgate import _errors
from vendorgate.testing.sandbox import VendorSandbox

pytestmark = pytest.mark.slow

LONEWOLF = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret-lonewolf",
    "audience": "https://api.lwolf.com",
}


def test_token_requests_counted_per_vendor_client_grant(sandbox, http):
    """Token requests are counted per (vendor, client id, grant)."""
    for _ in range(3):
        http.post(sandbox.token_url("lonewolf"), json=LONEWOLF)
    http.post(sandbox.token_url("lonewolf"), json={**LONEWOLF, "client_secret": "bad"})
    counters = sandbox.counters()
    assert counters.token_requests == {("lonewolf", "demo-client", "client_credentials"): 4}
    assert counters.tokens(vendor="tci") == 0


def test_api_requests_and_errors_counted(sandbox, http):
    """API requests, 429s and 5xx sent are counted."""
    token = http.post(sandbox.token_url("lonewolf"), json=LONEWOLF).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        http.get(sandbox.api_url("lonewolf") + "/items", headers=headers)
    sandbox.set_faults(status=429, status_burst=1)
    http.get(sandbox.url + "/ping")
    sandbox.set_faults(status=502, status_burst=1)
    http.get(sandbox.url + "/ping")
    counters = sandbox.counters()
    assert counters.api("lonewolf") == 2
    assert (counters.rate_limited, counters.server_errors) == (1, 1)


def test_added_client_gets_tokens(sandbox, http):
    """add_client() registers a client that can then get tokens."""
    sandbox.add_client("tci", "my-app", client_secret="my-secret")
    r = http.post(
        sandbox.token_url("tci-atm"),
        json={
            "clientId": "my-app",
            "clientSecret": "my-secret",
            "grant_types": "client_credentials",
        },
    )
    assert r.status_code == 200


def test_added_client_takes_a_framework_secret_value(sandbox, http):
    """A pydantic SecretStr (a Prefect block field) registers the client like a str."""
    from pydantic import SecretStr

    sandbox.add_client("lonewolf", "from-block", client_secret=SecretStr("s3"))
    body = {**LONEWOLF, "client_id": "from-block", "client_secret": "s3"}
    assert http.post(sandbox.token_url("lonewolf"), json=body).status_code == 200


def test_add_client_with_a_non_text_secret_names_the_field(sandbox):
    """A secret that is neither text nor a secret value is refused, naming the field."""
    with pytest.raises(_errors.ConfigurationError, match="client_secret"):
        sandbox.add_client("lonewolf", "x", client_secret=123)  # type: ignore[arg-type]


def test_add_client_with_bad_key_names_the_field(sandbox):
    """A public key that is not PEM is refused, naming public_key_pem."""
    with pytest.raises(_errors.ConfigurationError, match="public_key_pem"):
        sandbox.add_client("oauth2", "x", public_key_pem="not a key")


def test_unknown_preset_is_refused(sandbox):
    """token_url() of an unknown vendor raises UnknownPresetError listing the vendors."""
    with pytest.raises(_errors.UnknownPresetError, match="lonewolf"):
        sandbox.token_url("acme")


def test_preset_names_map_to_vendors(sandbox):
    """Preset names (oauth2-post, tci-atm, techwolf) resolve to their vendor's URLs."""
    assert sandbox.token_url("oauth2-post").endswith("/oauth2/oauth/v2/token")
    assert sandbox.token_url("tci-atm").endswith("/tci/auth/token")
    assert sandbox.audience("techwolf") == "eu3.techwolf.ai"
    assert sandbox.audience("lonewolf") == "https://api.lwolf.com"


def test_error_replies_never_echo_secrets(sandbox, http):
    """A refused token request does not echo the submitted secret."""
    r = http.post(sandbox.token_url("lonewolf"), json={**LONEWOLF, "client_secret": "hunter2-xyz"})
    assert "hunter2-xyz" not in r.text


def test_demo_credentials_are_masked(sandbox):
    """demo_credentials() wraps secrets; repr shows no secret."""
    creds = sandbox.demo_credentials("wokelo")
    assert creds["client_secret"].reveal() == "demo-secret-wokelo"
    assert "demo-secret" not in repr(creds)
    assert "demo-secret" not in repr(sandbox)


def test_process_mode_serves_and_is_controlled_over_http(http):
    """VendorSandbox(process=True) runs in a subprocess, with faults and counters over HTTP."""
    with VendorSandbox(process=True, dataset_size=5) as sb:
        pid = sb.pid
        assert pid is not None
        assert http.post(sb.token_url("lonewolf"), json=LONEWOLF).status_code == 200
        sb.set_faults(status=503, status_burst=1)
        assert http.get(sb.url + "/ping").status_code == 503
        counters = sb.counters()
        assert counters.tokens("lonewolf", "demo-client") == 1
        assert counters.server_errors == 1
        sb.add_client("lonewolf", "extra", client_secret="s")
        assert (
            http.post(
                sb.token_url("lonewolf"),
                json={**LONEWOLF, "client_id": "extra", "client_secret": "s"},
            ).status_code
            == 200
        )
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_process_mode_reports_bad_fault_field(http):
    """A bad fault sent to a subprocess sandbox raises ConfigurationError too."""
    with VendorSandbox(process=True) as sb, pytest.raises(_errors.ConfigurationError):
        sb._admin("faults", {"faults": {"latency": 1}})


def test_stop_is_idempotent_and_frees_the_url():
    """stop() twice is harmless; url then raises."""
    sb = VendorSandbox().start()
    sb.stop()
    sb.stop()
    with pytest.raises(_errors.VendorgateError):
        _ = sb.url
