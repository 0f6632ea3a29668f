"""The connection spec the Airflow adapter builds from a connection (see ``_connection``).

A thin holder of the core's pieces: the token configuration, the API base URL, the
token cache options and the timeout; it hands out the token provider (one token cache per
process for equal cache options) and the sync and async clients. Secret values a
connection holds enter as :class:`~vendorgate.Secret` values; resolved references are
registered with Airflow's masker the moment they are read.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from vendorgate.cache import TokenCache
    from vendorgate.http import AsyncVendorClient, VendorClient
    from vendorgate.tokens import TokenConfig, TokenProvider

__all__ = ["ConnectionSpec", "cache_for"]

_caches: dict[str, TokenCache] = {}
_caches_guard = threading.Lock()


def cache_for(options: Mapping[str, Any] | None) -> TokenCache:
    """One :class:`TokenCache` per process for equal cache options."""
    key = json.dumps(options or {}, sort_keys=True, default=str)
    with _caches_guard:
        cache = _caches.get(key)
        if cache is None:
            from vendorgate.airflow._cache_options import cache_from_options

            cache = _caches[key] = cache_from_options(options)
        return cache


@dataclass(frozen=True)
class ConnectionSpec:
    """What one vendorgate connection describes.

    Attributes:
        token: The token request configuration.
        base_url: Prefix of relative API URLs.
        cache: Token cache options (store and lock).
        timeout_s: Timeout of API requests, in seconds.
        conn_id: The Airflow connection id, if known.
    """

    token: TokenConfig
    base_url: str | None = None
    cache: Mapping[str, Any] | None = None
    timeout_s: float = 30.0
    conn_id: str | None = None
    _provider: list[TokenProvider] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_parts(cls, mapping: Mapping[str, Any], secrets: Mapping[str, Any]) -> ConnectionSpec:
        """Build from the plain mapping and the secret values kept apart from it."""
        from vendorgate.tokens import TokenConfig

        token = dict(mapping["token"])
        if "client_secret" in secrets:
            token["client_secret"] = "literal:" + secrets["client_secret"].reveal()
        if "vault" in token:
            vault = dict(token["vault"])
            if vault.get("url") is None:
                raise ConfigurationError(
                    "is required with the vault_* fields (or set VAULT_ADDR on the workers)",
                    field="vault.url",
                )
            for key in ("secret_id", "token"):
                if f"vault.{key}" in secrets:
                    vault[key] = secrets[f"vault.{key}"]
                    vault.pop(f"{key}_ref", None)
            from vendorgate.secrets import VaultSettings

            token["vault"] = VaultSettings(**vault)
        config = TokenConfig.from_mapping(token)
        timeout = mapping.get("timeout_s", 30.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError("must be a positive number of seconds", field="timeout_s")
        return cls(
            token=config,
            base_url=mapping.get("base_url"),
            cache=mapping.get("cache"),
            timeout_s=float(timeout),
            conn_id=mapping.get("conn_id"),
        )

    def provider(self) -> TokenProvider:
        """The token provider: the process's shared cache for these options, masked secrets."""
        if not self._provider:
            from vendorgate.airflow._tokens import masking_provider

            self._provider.append(masking_provider(self.token, cache_for(self.cache)))
        return self._provider[0]

    def client(self, **overrides: Any) -> VendorClient:
        """A :class:`~vendorgate.http.VendorClient` for this connection."""
        from vendorgate.airflow._tokens import MaskingSource
        from vendorgate.http import VendorClient

        options: dict[str, Any] = {"base_url": self.base_url or "", "timeout": self.timeout_s}
        options.update(overrides)
        return VendorClient(MaskingSource(self.provider()), **options)

    def async_client(self, **overrides: Any) -> AsyncVendorClient:
        """An :class:`~vendorgate.http.AsyncVendorClient` for this connection."""
        from vendorgate.airflow._tokens import MaskingSource
        from vendorgate.http import AsyncVendorClient

        options: dict[str, Any] = {"base_url": self.base_url or "", "timeout": self.timeout_s}
        options.update(overrides)
        return AsyncVendorClient(MaskingSource(self.provider()), **options)
