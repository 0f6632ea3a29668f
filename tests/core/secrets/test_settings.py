"""VaultSettings: validation, VAULT_* variables, serialisation without secrets."""

from __future__ import annotations

import json

import pytest

from vendorgate import _errors
from vendorgate._secret import Secret
from vendorgate.secrets import VaultSettings


def test_from_env_reads_standard_variables() -> None:
    """VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT and VAULT_CLIENT_* are read."""
    s = VaultSettings.from_env(
        {
            "VAULT_ADDR": "https://vault.example.com:8200/",
            "VAULT_TOKEN": "hvs.x",
            "VAULT_NAMESPACE": "team-a",
            "VAULT_CACERT": "/etc/ca.pem",
            "VAULT_CLIENT_CERT": "/etc/c.pem",
            "VAULT_CLIENT_KEY": "/etc/k.pem",
            "VAULT_CLIENT_TIMEOUT": "12",
        }
    )
    assert s.url == "https://vault.example.com:8200"
    assert s.auth_method == "token"
    assert s.token_ref == "env:VAULT_TOKEN"
    assert s.namespace == "team-a"
    assert s.verify == "/etc/ca.pem"
    assert (s.client_cert, s.client_key) == ("/etc/c.pem", "/etc/k.pem")
    assert s.timeout_s == 12.0


def test_from_env_role_id_selects_approle() -> None:
    """With VAULT_ROLE_ID and VAULT_SECRET_ID set, the auth method is AppRole."""
    s = VaultSettings.from_env(
        {"VAULT_ADDR": "https://v:8200", "VAULT_ROLE_ID": "rid", "VAULT_SECRET_ID": "sid"}
    )
    assert (s.auth_method, s.role_id, s.secret_id_ref) == ("approle", "rid", "env:VAULT_SECRET_ID")


def test_skip_verify_turns_tls_verification_off() -> None:
    """VAULT_SKIP_VERIFY=true wins over VAULT_CACERT."""
    s = VaultSettings.from_env(
        {
            "VAULT_ADDR": "https://v",
            "VAULT_TOKEN": "t",
            "VAULT_SKIP_VERIFY": "true",
            "VAULT_CACERT": "/ca",
        }
    )
    assert s.verify is False


def test_overrides_win_over_environment() -> None:
    """Keyword overrides replace what the environment says."""
    s = VaultSettings.from_env({"VAULT_ADDR": "https://a", "VAULT_TOKEN": "t"}, url="https://b")
    assert s.url == "https://b"


def test_missing_address_names_vault_addr() -> None:
    """Without VAULT_ADDR or url, the error names vault.url and VAULT_ADDR."""
    with pytest.raises(_errors.ConfigurationError, match=r"vault\.url: .*VAULT_ADDR"):
        VaultSettings.from_env({})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"auth_method": "token"}, "vault.token"),
        ({"auth_method": "approle", "secret_id_ref": "env:X"}, "vault.role_id"),
        ({"auth_method": "approle", "role_id": "r"}, "vault.secret_id"),
        ({"auth_method": "kubernetes"}, "vault.role"),
        ({"auth_method": "jwt", "role": "r"}, "vault.jwt"),
        ({"auth_method": "ldap"}, "vault.auth_method"),
        ({"token_ref": "vault:secret/a#b"}, "vault.token_ref"),
        ({"token_ref": "env:X", "timeout_s": 0}, "vault.timeout_s"),
        ({"token_ref": "env:X", "client_cert": "/c"}, "vault.client_cert"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    """Missing or invalid login fields raise ConfigurationError naming the field."""
    with pytest.raises(_errors.ConfigurationError) as info:
        VaultSettings(url="https://v:8200", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_url_is_configuration_error() -> None:
    """A url that is not http(s) raises ConfigurationError naming vault.url."""
    with pytest.raises(_errors.ConfigurationError, match=r"^vault\.url: "):
        VaultSettings(url="vault.example.com", token_ref="env:X")


def test_kubernetes_defaults_to_service_account_token_file() -> None:
    """Kubernetes auth reads the pod's service account token file unless told otherwise."""
    s = VaultSettings(url="https://v", auth_method="kubernetes", role="etl")
    assert s.jwt_ref == "file:/var/run/secrets/kubernetes.io/serviceaccount/token"


def test_mapping_round_trip_is_plain_json() -> None:
    """to_mapping() is plain JSON and from_mapping() rebuilds equal settings."""
    s = VaultSettings(
        url="https://v:8200",
        auth_method="approle",
        role_id="r",
        secret_id_ref="env:SID",
        namespace="ns",
        verify="/ca.pem",
    )
    data = json.loads(json.dumps(s.to_mapping()))
    assert VaultSettings.from_mapping(data) == s


def test_to_mapping_refuses_a_secret_value() -> None:
    """A secret given as a value cannot be serialised: the error asks for a reference."""
    s = VaultSettings(url="https://v", token=Secret("hvs.topsecret"))
    with pytest.raises(_errors.ConfigurationError, match="reference") as info:
        s.to_mapping()
    assert "topsecret" not in str(info.value)


def test_from_mapping_rejects_unknown_keys() -> None:
    """An unknown key in a mapping is named in the error."""
    with pytest.raises(_errors.ConfigurationError, match="adress"):
        VaultSettings.from_mapping({"adress": "https://v"})


def test_repr_hides_secret_values() -> None:
    """repr of settings never shows a token or secret id."""
    s = VaultSettings(
        url="https://v", auth_method="approle", role_id="r", secret_id=Secret("sid-secret-value")
    )
    assert "sid-secret-value" not in repr(s)


def test_settings_with_different_tokens_differ() -> None:
    """Two settings that differ only by token are different identities (separate sessions)."""
    a = VaultSettings(url="https://v", token=Secret("one"))
    b = VaultSettings(url="https://v", token=Secret("two"))
    assert a != b
    assert a == VaultSettings(url="https://v", token=Secret("one"))
    assert hash(a) == hash(VaultSettings(url="https://v", token=Secret("one")))
