"""An Airflow connection translates into vendorgate's connection spec in one place."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from vendorgate import ConfigurationError
from vendorgate.airflow._connection import connection_mapping, vendor_connection

pytestmark = pytest.mark.airflow

SECRET = "s3cr3t-client-value-123"


def _conn(**fields: Any) -> SimpleNamespace:
    base: dict[str, Any] = {
        "conn_id": "vendor_x",
        "login": "my-client",
        "password": SECRET,
        "host": "https://api.example.com/v1",
        "schema": None,
        "port": None,
        "extra": json.dumps({"preset": "lonewolf"}),
    }
    base.update(fields)
    return SimpleNamespace(**base)


def _error(conn: SimpleNamespace) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        vendor_connection(conn)
    assert SECRET not in str(info.value)
    return info.value


def test_login_password_and_host_become_client_id_secret_and_base_url() -> None:
    """The relabelled standard fields carry the client id, the client secret and the API URL."""
    spec = vendor_connection(_conn())
    assert spec.token.client_id == "my-client"
    assert spec.token.dialect.name == "lonewolf"
    assert spec.base_url == "https://api.example.com/v1"
    assert SECRET not in repr(spec)


def test_the_mapping_holds_no_secret_value() -> None:
    """The plain mapping (what a trigger or a log could see) keeps the password apart."""
    mapping, secrets = connection_mapping(_conn(), conn_id="vendor_x")
    assert SECRET not in json.dumps(mapping)
    assert secrets == {"client_secret": SECRET}


def test_a_vault_reference_replaces_the_password() -> None:
    """client_secret_ref points at Vault; the password field stays empty."""
    extra = {"preset": "lonewolf", "client_secret_ref": "vault:secret/x#client_secret"}
    spec = vendor_connection(_conn(password=None, extra=json.dumps(extra)))
    assert spec.token.client_secret == "vault:secret/x#client_secret"


def test_password_and_reference_together_are_refused() -> None:
    """Two sources for one secret is a mistake the error names."""
    extra = {"preset": "lonewolf", "client_secret_ref": "env:X"}
    assert _error(_conn(extra=json.dumps(extra))).field == "extra.client_secret_ref"


def test_missing_client_id_names_the_login_field() -> None:
    """A connection without a login says to fill in the Client ID."""
    assert _error(_conn(login=None)).field == "login"


def test_missing_preset_names_the_preset_field() -> None:
    """A connection without a preset says to choose one."""
    assert _error(_conn(extra="{}")).field == "extra.preset"


def test_unknown_preset_lists_the_valid_ones() -> None:
    """A typo in the preset gets the list of registered presets."""
    err = _error(_conn(extra=json.dumps({"preset": "lonewolff"})))
    assert err.field == "extra.preset"
    assert "techwolf-eu" in str(err)


def test_invalid_json_in_extra_is_named_without_echoing_it() -> None:
    """Broken Extra JSON is reported by position, never by content (it may hold a secret)."""
    err = _error(_conn(extra='{"preset": "lonewolf", "client_secret_ref": "' + SECRET))
    assert err.field == "extra"
    assert "not valid JSON" in str(err)


def test_unknown_extra_key_is_named() -> None:
    """A misspelt extra key is reported with the accepted keys."""
    err = _error(_conn(extra=json.dumps({"preset": "lonewolf", "tennant": "x"})))
    assert "'tennant'" in str(err)
    assert "tenant" in str(err)


@pytest.mark.parametrize("tenant", [None, ""])
def test_techwolf_connection_without_a_tenant_names_the_tenant_field(tenant: str | None) -> None:
    """A TechWolf connection without a tenant fails when read, naming extra.tenant."""
    extra = {"preset": "techwolf-eu"} if tenant is None else {"preset": "techwolf-eu", "tenant": ""}
    err = _error(_conn(extra=json.dumps(extra)))
    assert err.field == "extra.tenant"
    assert "is required by preset 'techwolf-eu'" in str(err)
    assert "vendor_x" in str(err)  # the connection to fix


def test_missing_secret_names_both_places_to_put_it() -> None:
    """No password and no reference: the error says where a client secret goes."""
    err = _error(_conn(password=None))
    assert "password" in str(err)
    assert "client_secret_ref" in str(err)


def test_prefixed_form_field_keys_are_accepted() -> None:
    """Keys stored by older forms as extra__vendorgate__<name> mean <name>."""
    extra = {"extra__vendorgate__preset": "lonewolf", "extra__vendorgate__scopes": "a b"}
    spec = vendor_connection(_conn(extra=json.dumps(extra)))
    assert spec.token.scopes == ("a", "b")


def test_default_cache_is_airflow_variables_with_a_file_lock() -> None:
    """Without a cache choice, workers share tokens in Variables and serialise refreshes."""
    mapping, _ = connection_mapping(_conn())
    assert mapping["cache"]["store"] == {"backend": "airflow-variable"}
    assert mapping["cache"]["lock"]["backend"] == "file"


def test_redis_lock_needs_a_url() -> None:
    """A Redis lock without cache_url names the field to fill in."""
    extra = {"preset": "lonewolf", "cache_lock": "redis"}
    assert _error(_conn(extra=json.dumps(extra))).field == "extra.cache_url"


def test_redis_password_in_the_cache_url_is_refused() -> None:
    """A password inside cache_url (an unmasked extra key) is refused, not shown in the UI."""
    extra = {"preset": "lonewolf", "cache_lock": "redis", "cache_url": "redis://:pw-1234@r:6379/0"}
    error = _error(_conn(extra=json.dumps(extra)))
    assert error.field == "extra.cache_url"
    assert "pw-1234" not in str(error)
    assert "cache_password" in str(error)


def test_redis_password_goes_in_its_own_masked_field() -> None:
    """cache_password (masked by Airflow: see test_provider_info) is joined to the URL."""
    extra = {
        "preset": "lonewolf",
        "cache_lock": "redis",
        "cache_url": "redis://r:6379/0",
        "cache_password": "pw-1234",
    }
    mapping, _ = connection_mapping(_conn(extra=json.dumps(extra)))
    assert mapping["cache"]["lock"]["url"] == "redis://:pw-1234@r:6379/0"


def test_vault_fields_build_the_vault_login() -> None:
    """vault_addr and an AppRole in the connection replace the workers' VAULT_* variables."""
    extra = {
        "preset": "lonewolf",
        "vault_addr": "https://vault.example.com:8200",
        "vault_auth_method": "approle",
        "vault_role_id": "role-1",
        "vault_secret_id": "approle-secret-value-9",
    }
    spec = vendor_connection(_conn(extra=json.dumps(extra)))
    assert spec.token.vault is not None
    assert spec.token.vault.url == "https://vault.example.com:8200"
    assert spec.token.vault.role_id == "role-1"
    assert "approle-secret-value-9" not in repr(spec)


def test_host_without_scheme_gets_https_and_port() -> None:
    """A host written as in a URI connection keeps working."""
    spec = vendor_connection(_conn(host="api.example.com", port=8443))
    assert spec.base_url == "https://api.example.com:8443"
