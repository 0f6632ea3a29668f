"""VendorRequestsAuth: vendorgate's tokens and cache for code built on requests."""

from __future__ import annotations

import pytest
import requests
from http_helpers import provider_for

from vendorgate import ConfigurationError
from vendorgate.http import VendorClient, VendorRequestsAuth


@pytest.mark.slow
def test_plain_session_gets_data_with_a_vendor_token(sandbox) -> None:  # type: ignore[no-untyped-def]
    """A requests.Session with the auth reads the vendor API."""
    session = VendorRequestsAuth(provider_for(sandbox)).session()
    reply = session.get(sandbox.api_url("lonewolf") + "/items", params={"per_page": 5}, timeout=10)
    assert reply.status_code == 200
    assert len(reply.json()["items"]) == 5


@pytest.mark.slow
def test_requests_and_httpx_clients_share_one_token(sandbox) -> None:  # type: ignore[no-untyped-def]
    """The same provider serves VendorClient and requests: the vendor is asked once."""
    provider = provider_for(sandbox)
    with VendorClient(provider, base_url=sandbox.api_url("lonewolf")) as client:
        client.get_json("/items", params={"per_page": 1})
    reply = requests.get(
        sandbox.api_url("lonewolf") + "/items", auth=VendorRequestsAuth(provider), timeout=10
    )
    assert reply.ok
    assert sandbox.counters().tokens(vendor="lonewolf") == 1


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["lonewolf", "oauth2-basic"])
def test_revoked_token_is_replaced_once(sandbox, preset: str) -> None:  # type: ignore[no-untyped-def]
    """A refused token (401, or 403 for Lone Wolf) is invalidated and the call sent again."""
    provider = provider_for(sandbox, preset)
    auth = VendorRequestsAuth(provider)
    url = sandbox.api_url(preset) + "/items"
    assert requests.get(url, auth=auth, timeout=10).ok
    sandbox.revoke_token(provider.get_token().access_token)
    reply = requests.get(url, auth=auth, timeout=10)
    assert reply.status_code == 200
    assert len(reply.history) == 1
    assert reply.history[0].status_code in provider.invalid_token_statuses
    assert sandbox.counters().tokens(vendor=preset.split("-")[0]) == 2


def test_airflow_http_hook_auth_type_factory_ignores_login_and_password() -> None:
    """HttpHook calls auth_type(login, password) or auth_type(): both give the vendor auth."""
    from http_helpers import FakeSource

    source = FakeSource()
    factory = VendorRequestsAuth.auth_type(source)  # type: ignore[arg-type]
    assert factory("login", "password").source is source
    assert factory().source is source


def test_token_is_not_sent_over_plain_http_to_another_host(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """requests code gets the same plain-HTTP guard as VendorClient."""
    from http_helpers import FakeSource

    monkeypatch.delenv("VENDORGATE_ALLOW_INSECURE_HTTP", raising=False)
    prepared = requests.Request("GET", "http://api.example.com/items").prepare()
    with pytest.raises(ConfigurationError, match="plain http"):
        VendorRequestsAuth(FakeSource())(prepared)  # type: ignore[arg-type]
