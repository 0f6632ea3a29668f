"""The vendors the sandbox speaks, their paths, and the clients registered with them."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import ConfigurationError, UnknownPresetError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "AUDIENCES",
    "AUTH_METHODS",
    "DEFAULT_LIFETIMES_S",
    "DEMO_TENANT",
    "TOKEN_PATHS",
    "VENDORS",
    "SandboxClient",
    "demo_clients",
    "tci_application_id",
    "vendor_for",
]

#: Vendor path prefixes, one per document in the seeds.
VENDORS: Final = ("techwolf-eu", "techwolf-us", "lonewolf", "tci", "oauth2", "wokelo")

#: Token endpoint path of each vendor: the prefix plus the document's own path.
TOKEN_PATHS: Final = {
    "techwolf-eu": "/techwolf-eu/oauth/token",
    "techwolf-us": "/techwolf-us/oauth/token",
    "lonewolf": "/lonewolf/oauth/token",
    "tci": "/tci/auth/token",
    "oauth2": "/oauth2/oauth/v2/token",
    "wokelo": "/wokelo/auth/token/",
}

#: The ``audience`` each vendor requires in the token request.
AUDIENCES: Final = {
    "techwolf-eu": "eu3.techwolf.ai",
    "techwolf-us": "us3.techwolf.ai",
    "lonewolf": "https://api.lwolf.com",
}

#: Token lifetimes the documents state, in seconds.
DEFAULT_LIFETIMES_S: Final = {
    "techwolf-eu": 10800,
    "techwolf-us": 10800,
    "lonewolf": 86400,
    "tci": 600,
    "oauth2": 3600,
    "wokelo": 2628288,
}

#: Client authentication methods a registration may allow.
AUTH_METHODS: Final = ("client_secret_post", "client_secret_basic", "private_key_jwt", "password")

DEMO_TENANT: Final = "demo-tenant"

_DEFAULT_SCOPES: Final = {
    "techwolf-eu": ("read", "write", "read_reports"),
    "techwolf-us": ("read", "write", "read_reports"),
    "lonewolf": (),
    "tci": (),
    "oauth2": ("read", "reports"),
    "wokelo": ("read", "write"),
}


def tci_application_id(client_id: str) -> str:
    """The TCI application id a client's access tokens carry in ``aud``.

    Document 002's decoded token has ``aud`` ``T_1kwjq0gTKGW6-g4O8OF``, an application
    id unlike the ``clientId``; the sandbox derives one per client, stably, in that shape.
    """
    digest = hashlib.sha256(client_id.encode()).digest()
    return "T_" + base64.urlsafe_b64encode(digest).decode("ascii")[:19]


# Preset names (vendorgate.dialects) that map to one of the sandbox's vendors.
_ALIASES: Final = {
    "techwolf": "techwolf-eu",
    "tci-atm": "tci",
    "atm": "tci",
    "lone-wolf": "lonewolf",
    "generic": "oauth2",
}


def vendor_for(preset: str) -> str:
    """Return the sandbox vendor serving a vendor or preset name.

    ``oauth2-post``, ``oauth2-private-key-jwt`` and other ``oauth2-*`` presets map to
    ``oauth2``; ``techwolf-eu-jwt`` style names map to their vendor prefix.

    Raises:
        UnknownPresetError: The name matches no sandbox vendor.
    """
    name = preset.strip().lower()
    if name in VENDORS:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    for vendor in sorted(VENDORS, key=len, reverse=True):
        if name.startswith(vendor + "-") or name.startswith(vendor + "_"):
            return vendor
    for alias, vendor in _ALIASES.items():
        if name.startswith(alias + "-"):
            return vendor
    raise UnknownPresetError(
        f"the sandbox has no vendor {preset!r}; use one of {', '.join(VENDORS)}",
        field="preset",
    )


@dataclass
class SandboxClient:
    """A client registration: who may ask for tokens, and how.

    Attributes:
        vendor: Vendor prefix (one of :data:`VENDORS`).
        client_id: The client id.
        client_secret: Shared secret (``None`` for key-only clients).
        public_key_pem: PEM public key verifying private_key_jwt assertions (any
            ``kid`` header, or none, is accepted: one key).
        public_jwks: A JWKS (``{"keys": [...]}``) verifying private_key_jwt
            assertions, as vendors register keys by ``kid``: the assertion's ``kid``
            header must name one of them, else 401 "no applicable key".
        username: Resource owner (Wokelo password grant).
        password: Resource owner's password.
        scopes: Scopes the client may be granted.
        auth_methods: Allowed client authentication methods (:data:`AUTH_METHODS`).
        tenants: TechWolf tenants the client may use (``None``: any).
    """

    vendor: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    public_key_pem: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    auth_methods: tuple[str, ...] = ()
    tenants: tuple[str, ...] | None = None
    public_jwks: dict[str, Any] | None = field(default=None, repr=False)
    _key: Any = field(default=None, repr=False, compare=False)
    _keys_by_kid: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_key(self) -> bool:
        """Whether the client registered a public key (PEM or JWKS)."""
        return self._key is not None or bool(self._keys_by_kid)

    @classmethod
    def build(
        cls,
        vendor: str,
        client_id: str,
        *,
        client_secret: str | None = None,
        public_key_pem: str | None = None,
        username: str | None = None,
        password: str | None = None,
        scopes: Sequence[str] | None = None,
        auth_methods: Sequence[str] | None = None,
        tenants: Sequence[str] | None = None,
        public_jwks: Mapping[str, Any] | None = None,
    ) -> SandboxClient:
        """Validate and build a registration (defaults derived from the credentials given).

        Raises:
            ConfigurationError: A bad vendor, id, auth method or key; names the field.
        """
        if vendor not in VENDORS:
            raise ConfigurationError(f"must be one of {', '.join(VENDORS)}", field="vendor")
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("must be a non-empty string", field="client_id")
        if client_secret is None and public_key_pem is None and public_jwks is None:
            raise ConfigurationError(
                "give a client_secret, a public_key_pem or public_jwks", field="client_secret"
            )
        if (username is None) != (password is None):
            raise ConfigurationError("username and password go together", field="password")
        if auth_methods is None:
            methods: list[str] = []
            if client_secret is not None:
                methods += ["client_secret_post", "client_secret_basic"]
            if public_key_pem is not None or public_jwks is not None:
                methods.append("private_key_jwt")
            if username is not None:
                methods.append("password")
            auth_methods = methods
        for method in auth_methods:
            if method not in AUTH_METHODS:
                raise ConfigurationError(
                    f"unknown method {method!r}; use {', '.join(AUTH_METHODS)}",
                    field="auth_methods",
                )
        key = None
        if public_key_pem is not None:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            try:
                key = load_pem_public_key(public_key_pem.encode())
            except (ValueError, TypeError) as exc:
                raise ConfigurationError(
                    "is not a PEM public key (-----BEGIN PUBLIC KEY-----)",
                    field="public_key_pem",
                ) from exc
        by_kid = _jwks_keys(public_jwks) if public_jwks is not None else {}
        return cls(
            vendor=vendor,
            client_id=client_id,
            client_secret=client_secret,
            public_key_pem=public_key_pem,
            public_jwks=dict(public_jwks) if public_jwks is not None else None,
            _keys_by_kid=by_kid,
            username=username,
            password=password,
            scopes=tuple(_DEFAULT_SCOPES[vendor] if scopes is None else scopes),
            auth_methods=tuple(auth_methods),
            tenants=None if tenants is None else tuple(tenants),
            _key=key,
        )

    def to_mapping(self) -> dict[str, Any]:
        """Plain form for the ``/_sandbox/add_client`` endpoint."""
        return {
            "vendor": self.vendor,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "public_key_pem": self.public_key_pem,
            "username": self.username,
            "password": self.password,
            "scopes": list(self.scopes),
            "auth_methods": list(self.auth_methods),
            "tenants": None if self.tenants is None else list(self.tenants),
            "public_jwks": self.public_jwks,
        }


def _jwks_keys(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The public keys of a JWKS by ``kid`` (each key must carry one)."""
    import jwt

    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise ConfigurationError('must be a JWKS: {"keys": [{...}, ...]}', field="public_jwks")
    out: dict[str, Any] = {}
    for entry in keys:
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        if not isinstance(kid, str) or not kid:
            raise ConfigurationError("every key needs a 'kid'", field="public_jwks")
        try:
            out[kid] = jwt.PyJWK(dict(entry)).key
        except jwt.PyJWTError as exc:
            raise ConfigurationError(
                f"key {kid!r} is not a usable public JWK ({type(exc).__name__})",
                field="public_jwks",
            ) from None
    return out


def demo_clients(demo_public_key_pem: str) -> list[SandboxClient]:
    """The fixed demo registrations every sandbox starts with (documented in the docs)."""
    out: list[SandboxClient] = []
    for vendor in ("techwolf-eu", "techwolf-us"):
        out.append(
            SandboxClient.build(
                vendor,
                "demo-client",
                client_secret="demo-secret-techwolf",
                tenants=[DEMO_TENANT],
            )
        )
        out.append(
            SandboxClient.build(
                vendor, "demo-jwt-client", public_key_pem=demo_public_key_pem, tenants=[DEMO_TENANT]
            )
        )
    out.append(SandboxClient.build("lonewolf", "demo-client", client_secret="demo-secret-lonewolf"))
    out.append(SandboxClient.build("tci", "demo-client", client_secret="demo-secret-tci"))
    out.append(SandboxClient.build("oauth2", "demo-client", client_secret="demo-secret-oauth2"))
    out.append(
        SandboxClient.build(
            "oauth2", "demo-readonly", client_secret="demo-secret-oauth2", scopes=["read"]
        )
    )
    out.append(SandboxClient.build("oauth2", "demo-jwt-client", public_key_pem=demo_public_key_pem))
    out.append(
        SandboxClient.build(
            "wokelo",
            "demo-client",
            client_secret="demo-secret-wokelo",
            username="demo@example.com",
            password="demo-password",
        )
    )
    return out
