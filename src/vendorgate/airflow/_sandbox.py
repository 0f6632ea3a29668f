"""``vendorgate`` connections for the vendor sandbox, with their secrets in Vault/OpenBao.

Used by the example DAGs' tests, the real-deployment test and ``vendorgate demo``: the
JSON each returns is what ``airflow connections add ID --conn-json`` or an
``AIRFLOW_CONN_<ID>`` variable takes. Secrets are Vault *references*; the Vault login
comes from the workers' ``VAULT_ADDR``/``VAULT_TOKEN`` (or the AppRole given).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vendorgate.testing.openbao import OpenBaoServer
    from vendorgate.testing.sandbox import VendorSandbox

__all__ = ["KV_PREFIX", "sandbox_connection", "store_sandbox_secrets"]

#: Where the sandbox's demo secrets are written in KV v2 (mount ``secret``).
KV_PREFIX = "vendorgate/airflow"


def store_sandbox_secrets(
    bao: OpenBaoServer, sandbox: VendorSandbox, *, kv_prefix: str = KV_PREFIX
) -> None:
    """Write every preset's demo secrets (and the demo PEM key) to OpenBao, by preset name."""
    from vendorgate.testing._demo import store_preset_secrets

    store_preset_secrets(bao, sandbox, kv_prefix)


def sandbox_connection(
    sandbox: VendorSandbox,
    preset: str,
    *,
    vault_addr: str | None = None,
    cache: str | None = None,
    cache_dir: str | None = None,
    kv_prefix: str = KV_PREFIX,
) -> dict[str, Any]:
    """The connection (``--conn-json`` form) of the sandbox's demo client for ``preset``.

    Args:
        sandbox: The running sandbox.
        preset: A registered preset name.
        vault_addr: Vault address written to the connection (``None``: the workers'
            ``VAULT_ADDR``); the login token always comes from ``VAULT_TOKEN``.
        cache: Token cache store (``None``: the default, Airflow Variables).
        cache_dir: Directory of the file lock (``None``: ``$AIRFLOW_HOME/vendorgate-cache``).
        kv_prefix: Where the secrets are in KV v2 (see :func:`store_sandbox_secrets`).
    """
    creds = sandbox.demo_credentials(preset)
    ref = f"vault:secret/{kv_prefix}/{preset}"
    extra: dict[str, Any] = {"preset": preset, "auth_url": creds["token_url"]}
    login = creds["client_id"]
    if preset == "oauth2-private-key-jwt":
        login = creds["jwt_client_id"]
        extra["private_key_ref"] = f"vault:secret/{kv_prefix}/private-keys#demo_jwt_client"
    else:
        extra["client_secret_ref"] = f"{ref}#client_secret"
    if creds.get("username"):
        extra["password_grant_username"] = f"{ref}#username"
        extra["password_grant_password"] = f"{ref}#password"
    if creds.get("tenant"):
        extra["tenant"] = creds["tenant"]
    if vault_addr:
        extra["vault_addr"] = vault_addr
        extra["vault_auth_method"] = "token"
    if cache:
        extra["cache"] = cache
    if cache_dir:
        extra["cache_dir"] = cache_dir
    return {
        "conn_type": "vendorgate",
        "description": f"vendor sandbox, preset {preset}",
        "host": sandbox.api_url(preset),
        "login": login,
        "extra": extra,
    }
