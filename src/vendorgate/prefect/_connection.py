"""Blocks -> the core's configuration: the only place that reads block fields.

Tasks, the blocks' own methods and the flows call these functions; nothing else looks
inside a block. Errors name the block field at fault and never carry a secret.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from vendorgate.cache import TokenCache
    from vendorgate.http import AsyncVendorClient, Paginator, VendorClient
    from vendorgate.prefect._blocks import VaultConnection, VendorApi, VendorCredentials
    from vendorgate.secrets import VaultSettings
    from vendorgate.tokens import TokenConfig, TokenProvider

__all__ = [
    "async_vendor_client",
    "cache_options",
    "paginator_from",
    "token_cache",
    "token_config",
    "token_provider",
    "vault_settings",
    "vendor_client",
]

_PREFECT_SECRET = "prefect-secret:"


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


def _secret_field(value: SecretStr | None, ref: str | None, field: str) -> str | None:
    """One secret of the credentials: a stored value or a reference, never both."""
    if value is not None and ref:
        raise ConfigurationError(
            f"give either {field} (a value) or {field}_ref (a reference), not both",
            field=f"VendorCredentials.{field}",
        )
    if value is not None:
        return "literal:" + value.get_secret_value()
    if not ref:
        return None
    if ref.startswith(_PREFECT_SECRET):
        from vendorgate.prefect._secrets import resolve_prefect_secret

        try:
            return "literal:" + resolve_prefect_secret(ref[len(_PREFECT_SECRET) :])
        except ConfigurationError as exc:
            raise ConfigurationError(
                str(exc).split(": ", 1)[-1], field=f"VendorCredentials.{field}_ref"
            ) from None
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
    options = dict(api.token_cache_options)
    if api.token_cache == "memory":
        return {"backend": "memory"}
    return {
        "store": {"backend": api.token_cache, **options},
        "lock": {"backend": api.token_cache_lock, **options},
    }


_caches: dict[str, TokenCache] = {}
_caches_guard = threading.Lock()


def token_cache(options: dict[str, Any]) -> TokenCache:
    """One token cache per process for equal options (shared by every task run)."""
    key = json.dumps(options, sort_keys=True, default=str)
    cache = _caches.get(key)
    if cache is None:
        with _caches_guard:
            cache = _caches.get(key)
            if cache is None:
                cache = _caches[key] = _build_cache(options)
    return cache


def _part(options: dict[str, Any], field: str) -> Any:
    from vendorgate.cache import FileBackend, RedisBackend

    from vendorgate.prefect._cache import PrefectBlockStore, PrefectConcurrencyLock

    name = options.get("backend")
    opts = {k: v for k, v in options.items() if k != "backend"}
    if name == "prefect-block":
        return PrefectBlockStore()
    if name == "prefect-gcl":
        return PrefectConcurrencyLock(**{k: v for k, v in opts.items() if k == "lease_duration_s"})
    if name == "file":
        if "path" not in opts:
            raise ConfigurationError(
                "the file cache needs {'path': '/a/shared/directory'}",
                field="VendorApi.token_cache_options",
            )
        return FileBackend(opts["path"])
    if name == "redis":
        if "url" not in opts:
            raise ConfigurationError(
                "the redis cache needs {'url': 'redis://host:6379/0'}",
                field="VendorApi.token_cache_options",
            )
        return RedisBackend(opts["url"])
    raise ConfigurationError(
        f"unknown backend {name!r}; use prefect-block, prefect-gcl, memory, file or redis",
        field=f"VendorApi.{field}",
    )


def _build_cache(options: dict[str, Any]) -> TokenCache:
    from vendorgate.cache import TokenCache

    from vendorgate.prefect._cache import PairedBackend

    if options.get("backend") == "memory":
        return TokenCache()
    store = _part(options["store"], "token_cache")
    lock = _part(options["lock"], "token_cache_lock")
    return TokenCache(PairedBackend(store, lock))


def token_provider(api: VendorApi) -> TokenProvider:
    """The token provider of a :class:`VendorApi` block (its credentials and cache)."""
    from vendorgate.tokens import TokenProvider

    return TokenProvider(token_config(api.credentials), cache=token_cache(cache_options(api)))


def _client_options(api: VendorApi) -> dict[str, Any]:
    import httpx

    from vendorgate.http import RateLimit, RetryPolicy

    if not api.base_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            "must be an http(s) URL such as https://api.example.com/v1",
            field="VendorApi.base_url",
        )
    return {
        "base_url": api.base_url,
        "retry": RetryPolicy(attempts=api.retry_attempts, timeout_s=api.retry_timeout_s),
        "rate_limit": RateLimit(
            requests_per_s=api.requests_per_s, max_concurrency=api.max_concurrency
        ),
        "headers": dict(api.headers),
        "timeout": httpx.Timeout(connect=10.0, read=api.timeout_s, write=60.0, pool=30.0),
    }


def vendor_client(api: VendorApi) -> VendorClient:
    """A synchronous client for a :class:`VendorApi` block."""
    from vendorgate.http import VendorClient

    options = _client_options(api)
    return VendorClient(token_provider(api), **options)


def async_vendor_client(api: VendorApi) -> AsyncVendorClient:
    """An asyncio client for a :class:`VendorApi` block."""
    from vendorgate.http import AsyncVendorClient

    options = _client_options(api)
    return AsyncVendorClient(token_provider(api), **options)


def paginator_from(spec: Paginator | dict[str, Any] | None) -> Paginator:
    """A paginator from itself, its mapping form (``{"type": "page_number", ...}``) or
    ``None`` (page numbers with the defaults)."""
    from vendorgate.http import PageNumber, Paginator

    if spec is None:
        return PageNumber()
    if isinstance(spec, Paginator):
        return spec
    if isinstance(spec, dict):
        kind = spec.get("type", "page_number")
        options = {k: v for k, v in spec.items() if k != "type"}
        if kind == "page_number":
            try:
                return PageNumber(**options)
            except TypeError as exc:
                raise ConfigurationError(str(exc), field="paginator") from None
        raise ConfigurationError(
            f"unknown paginator type {kind!r}; pass a Paginator object", field="paginator.type"
        )
    raise ConfigurationError("must be a Paginator or its mapping form", field="paginator")
