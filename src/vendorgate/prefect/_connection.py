"""Blocks -> the core's configuration: the only place that reads block fields.

Tasks, the blocks' own methods and the flows call these functions; nothing else looks
inside a block. Errors name the block field at fault and never carry a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from vendorgate.connection import VendorConnection
    from vendorgate.http import AsyncVendorClient, Paginator, VendorClient
    from vendorgate.prefect._blocks import VaultConnection, VendorApi, VendorCredentials
    from vendorgate.secrets import VaultSettings
    from vendorgate.tokens import TokenConfig, TokenProvider

__all__ = [
    "async_vendor_client",
    "cache_options",
    "connection",
    "paginator_from",
    "token_config",
    "token_provider",
    "vault_settings",
    "vendor_client",
]


def vault_settings(vault: VaultConnection) -> VaultSettings:
    """The core's Vault settings for a :class:`VaultConnection` block."""
    from vendorgate._secret import Secret
    from vendorgate.secrets import VaultSettings

    def secret(value: SecretStr | None) -> Secret | None:
        return Secret(value.get_secret_value()) if value is not None else None

    verify: bool | str = vault.ca_cert_path or vault.verify_tls
    try:
        return VaultSettings(
            url=vault.address,
            auth_method=vault.auth_method,
            token=secret(vault.token),
            role_id=vault.role_id,
            secret_id=secret(vault.secret_id),
            role=vault.role,
            jwt=secret(vault.jwt),
            jwt_ref=f"file:{vault.jwt_path}" if vault.jwt_path else None,
            mount_point=vault.mount_point,
            namespace=vault.namespace,
            verify=verify,
            client_cert=vault.client_cert_path,
            client_key=vault.client_key_path,
            timeout_s=vault.timeout_s,
        )
    except ConfigurationError as exc:
        raise _in_block("VaultConnection", exc) from None


def _in_block(block: str, exc: ConfigurationError) -> ConfigurationError:
    """The same error, its field named as the block's (``VendorCredentials.client_id``)."""
    field = exc.field or "?"
    field = {"vault.url": "address", "url": "address"}.get(field, field)
    field = field.removeprefix("vault.")
    message = str(exc).split(": ", 1)[1] if exc.field and ": " in str(exc) else str(exc)
    return type(exc)(message, field=f"{block}.{field}")


def _secret_field(value: SecretStr | None, ref: str | None, field: str) -> Any:
    """One secret of the credentials: a stored value or a reference, never both."""
    if value is not None and ref:
        raise ConfigurationError(
            f"give either {field} (a value) or {field}_ref (a reference), not both",
            field=f"VendorCredentials.{field}",
        )
    if value is not None:
        return value  # the core takes a SecretStr as a value; it is never written out
    if not ref:
        return None
    from vendorgate.secrets import parse_secret_ref

    parse_secret_ref(ref, field=f"VendorCredentials.{field}_ref")
    return ref


def token_config(credentials: VendorCredentials) -> TokenConfig:
    """The core's token configuration for a :class:`VendorCredentials` block.

    Raises:
        ConfigurationError: a missing or invalid field, named as the block's field
            (``VendorCredentials.preset``) with what to do.
    """
    from vendorgate.tokens import TokenConfig

    c = credentials
    data: dict[str, Any] = {
        "preset": c.preset,
        "client_id": c.client_id,
        "token_url": c.token_url or None,
        "client_secret": _secret_field(c.client_secret, c.client_secret_ref, "client_secret"),
        "private_key": _secret_field(c.private_key, c.private_key_ref, "private_key"),
        "transit_key": c.transit_key or None,
        "username": _secret_field(None, c.username_ref, "username"),
        "password": _secret_field(c.password, c.password_ref, "password"),
        "client_auth": c.client_auth,
        "audience": c.audience,
        "tenant": c.tenant,
        "scopes": tuple(c.scopes),
        "extra_params": dict(c.extra_params),
        "signing_alg": c.signing_alg,
        "signing_kid": c.signing_kid,
        "validate_tokens": c.validate_tokens,
    }
    if c.dialect_overrides:
        data["dialect"] = dict(c.dialect_overrides)
    if c.vault is not None:
        data["vault"] = vault_settings(c.vault)
    data = {k: v for k, v in data.items() if v is not None}
    try:
        return TokenConfig.from_mapping(data)
    except ConfigurationError as exc:
        raise _in_block("VendorCredentials", exc) from None


def cache_options(api: VendorApi) -> dict[str, Any]:
    """The block's token cache choice as plain options (``cache_from_mapping`` form)."""
    if api.token_cache == "memory":
        return {"backend": "memory"}
    options = dict(api.token_cache_options)
    if api.token_cache == api.token_cache_lock:  # file, redis or vault as store and lock
        return {"backend": api.token_cache, **options}
    store = {"backend": api.token_cache}
    lock = {"backend": api.token_cache_lock}
    (lock if api.token_cache == "prefect-block" else store).update(options)
    return {"store": store, "lock": lock}


def connection(api: VendorApi) -> VendorConnection:
    """The core's connection spec for a :class:`VendorApi` block.

    The only place that reads a ``VendorApi``'s fields. Specs with equal cache options
    share one token cache per process, so every task run of a worker shares the memory
    level in front of the block-document store.

    Raises:
        ConfigurationError: a missing or invalid field, named as the block's field.
    """
    from vendorgate.connection import VendorConnection
    from vendorgate.http import RateLimit, RetryPolicy

    try:
        return VendorConnection(
            token=token_config(api.credentials),
            base_url=api.base_url,
            cache=cache_options(api),
            retry=RetryPolicy(attempts=api.retry_attempts, timeout_s=api.retry_timeout_s),
            rate_limit=RateLimit(
                requests_per_s=api.requests_per_s, max_concurrency=api.max_concurrency
            ),
            headers=dict(api.headers),  # type: ignore[arg-type]
            timeout_s=api.timeout_s,
        )
    except ConfigurationError as exc:
        if (exc.field or "").startswith("VendorCredentials."):
            raise
        raise _in_block("VendorApi", exc) from None


def token_provider(api: VendorApi) -> TokenProvider:
    """The token provider of a :class:`VendorApi` block (its credentials and cache)."""
    return connection(api).provider()


def vendor_client(api: VendorApi) -> VendorClient:
    """A synchronous client for a :class:`VendorApi` block."""
    return connection(api).client()


def async_vendor_client(api: VendorApi) -> AsyncVendorClient:
    """An asyncio client for a :class:`VendorApi` block."""
    return connection(api).async_client()


def paginator_from(spec: Paginator | dict[str, Any] | None) -> Paginator:
    """A paginator from itself, its mapping form (``{"type": "page_number", ...}``) or
    ``None`` (page numbers with the defaults)."""
    from vendorgate.http import PageNumber, Paginator, paginator_from_mapping

    if spec is None:
        return PageNumber()
    if isinstance(spec, Paginator):
        return spec
    if isinstance(spec, dict):
        return paginator_from_mapping({"type": "page_number", **spec})
    raise ConfigurationError("must be a Paginator or its mapping form", field="paginator")
