"""The connection spec the Airflow adapter builds: a core ``VendorConnection`` (token,
base URL, token cache store and lock, timeout) and the Airflow connection id.

Secret values a connection holds enter as :class:`~vendorgate.Secret` values; resolved
references are registered with Airflow's masker the moment they are read
(:class:`~vendorgate.airflow._tokens.MaskingResolver`), and every token handed to a
client is masked first (:class:`~vendorgate.airflow._tokens.MaskingSource`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from vendorgate.connection import VendorConnection
    from vendorgate.http import AsyncVendorClient, VendorClient
    from vendorgate.tokens import TokenConfig, TokenProvider

__all__ = ["ConnectionSpec"]


@dataclass(frozen=True)
class ConnectionSpec:
    """What one ``vendorgate`` Airflow connection describes.

    Attributes:
        connection: The core connection spec (token, base URL, token cache, timeout).
        conn_id: The Airflow connection id, if known.
    """

    connection: VendorConnection
    conn_id: str | None = None
    _provider: list[TokenProvider] = field(default_factory=list, repr=False, compare=False)

    @property
    def token(self) -> TokenConfig:
        """The token request configuration."""
        return self.connection.token

    @property
    def base_url(self) -> str | None:
        """Prefix of relative API URLs."""
        return self.connection.base_url

    @classmethod
    def from_parts(cls, mapping: Mapping[str, Any], secrets: Mapping[str, Any]) -> ConnectionSpec:
        """Build from the plain mapping and the secret values kept apart from it."""
        from vendorgate.connection import VendorConnection

        token = dict(mapping["token"])
        if "client_secret" in secrets:
            token["client_secret"] = secrets["client_secret"]
        if "vault" in token:
            from vendorgate.secrets import VaultSettings

            vault = dict(token["vault"])
            for key in ("secret_id", "token"):
                if f"vault.{key}" in secrets:
                    vault[key] = secrets[f"vault.{key}"]
                    vault.pop(f"{key}_ref", None)
            if vault.get("url") is None:
                from vendorgate._errors import ConfigurationError

                raise ConfigurationError(
                    "is required with the vault_* fields (or set VAULT_ADDR on the workers)",
                    field="vault.url",
                )
            token["vault"] = VaultSettings(**vault)
        core = {k: v for k, v in mapping.items() if k in ("base_url", "cache", "timeout_s")}
        return cls(
            connection=VendorConnection.from_mapping({"token": token, **core}),
            conn_id=mapping.get("conn_id"),
        )

    def provider(self) -> TokenProvider:
        """The token provider: the process's shared cache for these options, masked secrets."""
        if not self._provider:
            from vendorgate.airflow._tokens import MaskingResolver

            self._provider.append(
                self.connection.provider(resolver=MaskingResolver(self.token.vault))
            )
        return self._provider[0]

    def client(self, **overrides: Any) -> VendorClient:
        """A :class:`~vendorgate.http.VendorClient` for this connection."""
        from vendorgate.airflow._tokens import MaskingSource

        overrides.setdefault("source", MaskingSource(self.provider()))
        return self.connection.client(**overrides)

    def async_client(self, **overrides: Any) -> AsyncVendorClient:
        """An :class:`~vendorgate.http.AsyncVendorClient` for this connection."""
        from vendorgate.airflow._tokens import MaskingSource

        overrides.setdefault("source", MaskingSource(self.provider()))
        return self.connection.async_client(**overrides)
