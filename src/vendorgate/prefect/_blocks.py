"""The collection's blocks: Vault access, vendor credentials and a vendor API.

Blocks only hold settings; ``_connection.py`` turns them into the core's configuration
(the one place that reads block fields). Secret values are ``SecretStr`` fields, stored
Fernet-encrypted by the Prefect server and shown as ``********`` by its API and UI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    import os

    import httpx

    from vendorgate.http import AsyncVendorClient, Paginator, PullResult, VendorClient

__all__ = [
    "DOCUMENTATION_URL",
    "LOGO_URL",
    "TokenCacheEntry",
    "VaultConnection",
    "VendorApi",
    "VendorCredentials",
]

#: Where the collection's docs live (the MkDocs site's Prefect section).
DOCUMENTATION_URL = "https://example.invalid/vendorgate/prefect/blocks/"
#: The logo shipped in the package (``vendorgate/prefect/logo.png``), as published.
LOGO_URL = "https://example.invalid/vendorgate/raw/main/src/vendorgate/prefect/logo.png"


class VaultConnection(Block):
    """How vendorgate reaches and logs in to HashiCorp Vault or OpenBao.

    Used by `VendorCredentials` to read `vault:` secret references and to sign client
    assertions with Vault Transit. One login per worker process is shared by every task.

    Example:
        Load a saved Vault connection:
        ```python
        from vendorgate.prefect import VaultConnection

        vault = VaultConnection.load("BLOCK_NAME")
        ```
    """

    _block_type_name: ClassVar[str] = "vendorgate Vault Connection"
    _block_type_slug: ClassVar[str] = "vendorgate-vault-connection"
    _logo_url: ClassVar[Any] = LOGO_URL
    _documentation_url: ClassVar[Any] = DOCUMENTATION_URL

    address: str = Field(
        default=...,
        description="Vault address, e.g. https://vault.example.com:8200.",
    )
    namespace: str | None = Field(
        default=None, description="Vault Enterprise or OpenBao namespace, if any."
    )
    auth_method: Literal["token", "approle", "kubernetes", "jwt"] = Field(
        default="token",
        description="How to log in: token, approle, kubernetes or jwt.",
    )
    token: SecretStr | None = Field(
        default=None, description="Token auth: the Vault token (stored encrypted)."
    )
    role_id: str | None = Field(
        default=None, description="AppRole auth: the role id (an identifier, not a secret)."
    )
    secret_id: SecretStr | None = Field(
        default=None, description="AppRole auth: the secret id (stored encrypted)."
    )
    role: str | None = Field(
        default=None, description="Kubernetes or JWT auth: the Vault role to log in as."
    )
    jwt: SecretStr | None = Field(
        default=None,
        description="JWT auth: the JWT to present (stored encrypted); Kubernetes reads the "
        "service account token file instead.",
    )
    jwt_path: str | None = Field(
        default=None,
        description="Kubernetes or JWT auth: a file holding the JWT, read at each login "
        "(Kubernetes default: the pod's service account token).",
    )
    mount_point: str | None = Field(
        default=None,
        description="Where the auth method is mounted (default: the method's name).",
    )
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")
    ca_cert_path: str | None = Field(
        default=None, description="A CA bundle file or directory to verify the server with."
    )
    client_cert_path: str | None = Field(
        default=None, description="A client TLS certificate file, for mutual TLS."
    )
    client_key_path: str | None = Field(
        default=None, description="The client certificate's key file, for mutual TLS."
    )
    timeout_s: float = Field(
        default=30.0, gt=0, description="Timeout of each Vault request, in seconds."
    )


class VendorCredentials(Block):
    """A client's credentials for one vendor: preset, client id and secret (or key).

    Each secret is given either as a value (a `SecretStr`, stored encrypted) or as a
    reference resolved at use: `vault:<mount>/<path>#<key>` (needs `vault`),
    `prefect-secret:<Secret block name>`, `env:<VARIABLE>` or `file:<PATH>`.

    Example:
        Load saved credentials and ask for a token:
        ```python
        from vendorgate.prefect import VendorCredentials

        credentials = VendorCredentials.load("BLOCK_NAME")
        token = credentials.get_token_provider().get_token()
        ```
    """

    _block_type_name: ClassVar[str] = "vendorgate Vendor Credentials"
    _block_type_slug: ClassVar[str] = "vendorgate-vendor-credentials"
    _logo_url: ClassVar[Any] = LOGO_URL
    _documentation_url: ClassVar[Any] = DOCUMENTATION_URL

    preset: str = Field(
        default=...,
        description="The vendor preset, e.g. techwolf-eu, lonewolf, tci-atm, oauth2-basic "
        "(run 'vendorgate presets' for the list).",
    )
    client_id: str = Field(
        default=..., description="The client id the vendor gave you (not a secret)."
    )
    token_url: str | None = Field(
        default=None, description="Token endpoint; empty uses the preset's default."
    )
    client_secret: SecretStr | None = Field(
        default=None, description="The client secret as a value (stored encrypted)."
    )
    client_secret_ref: str | None = Field(
        default=None,
        description="Or a reference to the client secret, e.g. "
        "vault:secret/vendors/acme#client_secret or prefect-secret:acme-secret.",
    )
    private_key: SecretStr | None = Field(
        default=None,
        description="A PEM private key for private_key_jwt, as a value (stored encrypted).",
    )
    private_key_ref: str | None = Field(
        default=None, description="Or a reference to the PEM private key."
    )
    transit_key: str | None = Field(
        default=None,
        description="Or a Vault Transit key that signs client assertions, as "
        "<mount>/<name> (the key never leaves Vault).",
    )
    username_ref: str | None = Field(
        default=None, description="Password grant: a reference to the username."
    )
    password: SecretStr | None = Field(
        default=None, description="Password grant: the password as a value (stored encrypted)."
    )
    password_ref: str | None = Field(
        default=None, description="Password grant: or a reference to the password."
    )
    client_auth: Literal["body", "basic", "assertion"] | None = Field(
        default=None,
        description="Client authentication: body, basic or assertion; empty uses the preset's.",
    )
    audience: str | None = Field(
        default=None, description="Audience sent in the token request; empty: the preset's."
    )
    tenant: str | None = Field(
        default=None,
        description="Tenant sent in the token request; required by techwolf-eu and techwolf-us.",
    )
    scopes: list[str] = Field(default_factory=list, description="Scopes requested (empty: none).")
    extra_params: dict[str, str] = Field(
        default_factory=dict,
        description="Extra non-secret token request fields, e.g. lwt_client_id for Lone Wolf.",
    )
    signing_alg: Literal["RS256", "PS256", "ES256"] = Field(
        default="RS256", description="Client assertion algorithm for private_key_jwt."
    )
    signing_kid: str | None = Field(
        default=None, description="kid header of client assertions, when the vendor wants one."
    )
    dialect_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Changes to the preset's dialect (a dialect table, see the presets "
        "docs), e.g. {'token_field': 'accessToken'}.",
    )
    validate_tokens: bool = Field(
        default=True, description="Verify access tokens against the vendor's JWKS, if any."
    )
    vault: VaultConnection | None = Field(
        default=None,
        description="The Vault connection that resolves vault: references and Transit keys.",
    )

    def get_token_provider(self) -> Any:
        """A token provider for these credentials, with the process-wide memory cache.

        Returns:
            A :class:`vendorgate.tokens.TokenProvider`.

        Raises:
            ConfigurationError: a field is missing or invalid (the error names it).
        """
        from vendorgate.prefect._connection import token_config
        from vendorgate.tokens import TokenProvider

        return TokenProvider(token_config(self))


class VendorApi(Block):
    """A vendor REST API: credentials, base URL, retries, rate limit and token cache.

    By default tokens are shared by every task and worker through a block document per
    token (encrypted at rest) and a global concurrency limit of 1 as the refresh lock.

    Example:
        Load a saved API and pull every page to a file:
        ```python
        from vendorgate.prefect import VendorApi

        api = VendorApi.load("BLOCK_NAME")
        result = api.extract("/items", output="items.jsonl")
        ```
    """

    _block_type_name: ClassVar[str] = "vendorgate Vendor API"
    _block_type_slug: ClassVar[str] = "vendorgate-vendor-api"
    _logo_url: ClassVar[Any] = LOGO_URL
    _documentation_url: ClassVar[Any] = DOCUMENTATION_URL

    credentials: VendorCredentials = Field(
        default=..., description="The vendor credentials block to ask tokens with."
    )
    base_url: str = Field(
        default=..., description="The API's base URL, e.g. https://api.example.com/v1."
    )
    token_cache: Literal["prefect-block", "memory", "file", "redis", "vault"] = Field(
        default="prefect-block",
        description="Where tokens are shared: prefect-block (a block document per token), "
        "memory (this process only), file, redis or vault.",
    )
    token_cache_lock: Literal["prefect-gcl", "file", "redis", "vault"] = Field(
        default="prefect-gcl",
        description="The refresh lock across workers: prefect-gcl (a global concurrency "
        "limit of 1), file, redis or vault; unused with the memory cache.",
    )
    token_cache_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of the file, redis or vault cache, e.g. {'url': "
        "'redis://host:6379/0'}, {'directory': '/shared/token-cache'} or "
        "{'lease_duration_s': 120} for prefect-gcl.",
    )
    retry_attempts: int = Field(
        default=5, ge=1, description="Attempts per request (429, 5xx, transport errors)."
    )
    retry_timeout_s: float = Field(
        default=120.0, gt=0, description="Time budget of one request with its retries, in s."
    )
    requests_per_s: float | None = Field(
        default=None, gt=0, description="Rate limit in requests per second (empty: none)."
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, description="Requests in flight at most (empty: no limit)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Non-secret headers sent with every request."
    )
    timeout_s: float = Field(
        default=30.0, gt=0, description="Read timeout of each request, in seconds."
    )

    def get_client(self) -> VendorClient:
        """A synchronous vendor API client (use it as a context manager).

        Raises:
            ConfigurationError: a field is missing or invalid (the error names it).
        """
        from vendorgate.prefect._connection import vendor_client

        return vendor_client(self)

    def get_async_client(self) -> AsyncVendorClient:
        """An asyncio vendor API client (use it with ``async with``).

        Raises:
            ConfigurationError: a field is missing or invalid (the error names it).
        """
        from vendorgate.prefect._connection import async_vendor_client

        return async_vendor_client(self)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send one request with the client's retries; return the read response.

        Raises:
            APIError: the vendor refused the request (a typed subclass by status).
        """
        with self.get_client() as client:
            return client.request(method, path, params=params, json=json)

    def extract(
        self,
        path: str,
        paginator: Paginator | dict[str, Any] | None = None,
        *,
        output: str | os.PathLike[str],
        params: dict[str, Any] | None = None,
    ) -> PullResult:
        """Pull every page of ``path`` to ``output`` (JSON Lines), resuming a checkpoint.

        Args:
            path: The collection's path below ``base_url``.
            paginator: A paginator, its mapping form, or ``None`` for page numbers.
            output: A file path or an fsspec URL (``s3://...``).
            params: Query parameters of the first page.
        """
        from vendorgate.prefect._connection import paginator_from

        with self.get_client() as client:
            return client.pull(path, paginator_from(paginator), output=output, params=params)


class TokenCacheEntry(Block):
    """One cached vendor token, written and read by vendorgate's token cache.

    The entry (access token, expiry and refresh token, if any) is a `SecretStr`: the
    Prefect server stores it encrypted and its API shows `********`. The document's name
    is derived from the token request's non-secret identity. Do not edit it by hand.

    Example:
        Inspect when a cached token was written (the value stays hidden):
        ```python
        from vendorgate.prefect import TokenCacheEntry

        entry = TokenCacheEntry.load("BLOCK_NAME")
        ```
    """

    _block_type_name: ClassVar[str] = "vendorgate Token Cache Entry"
    _block_type_slug: ClassVar[str] = "vendorgate-token-cache-entry"
    _logo_url: ClassVar[Any] = LOGO_URL
    _documentation_url: ClassVar[Any] = DOCUMENTATION_URL

    entry: SecretStr = Field(
        default=...,
        description="The cached token entry (JSON, stored encrypted); empty when invalidated.",
    )
