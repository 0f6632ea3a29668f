"""The ``vendorgate`` connection type's fields: one table for the UI form and the translator.

The React UI of Airflow 3 builds the connection form from the declarative ``conn-fields``
of the provider info; the values land as top-level keys of ``Connection.extra``. The
same table drives :mod:`vendorgate.airflow._connection`, which reads those keys.

Airflow masks a connection extra (in the REST API and in logs) by its *key name*: every
key that can carry a secret (a value or a ``literal:`` reference) contains a word the
masker treats as sensitive (``secret``, ``password``, ``private_key``, ``token``), and no
other key does (so a token URL is called ``auth_url``: ``token_url`` would be masked).
A test checks both directions against Airflow's own masker.

This module imports nothing but the standard library: ``get_provider_info()`` uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "CACHE_LOCKS",
    "CACHE_STORES",
    "CLIENT_AUTH_CHOICES",
    "EXTRA_FIELDS",
    "SIGNING_ALGS",
    "VAULT_AUTH_METHODS",
    "ExtraField",
]

CLIENT_AUTH_CHOICES: Final = ("body", "basic", "assertion")
SIGNING_ALGS: Final = ("RS256", "PS256", "ES256")
VAULT_AUTH_METHODS: Final = ("token", "approle", "kubernetes", "jwt")
#: Where tokens are shared (``memory``: each worker process alone).
CACHE_STORES: Final = ("airflow-variable", "file", "redis", "vault", "memory")
#: Who serialises refreshes across processes (``none``: duplicate refreshes possible).
CACHE_LOCKS: Final = ("file", "redis", "vault", "none")


@dataclass(frozen=True)
class ExtraField:
    """One extra key of the connection form.

    Attributes:
        name: The key in ``Connection.extra``.
        label: The form label.
        description: Help text shown under the field.
        kind: JSON schema type (``string``, ``integer``, ``number``, ``boolean``).
        secret: The key can carry a secret; its name makes Airflow mask it.
        choices: Allowed values (a select box), if any.
        default: Default shown in the form.
    """

    name: str
    label: str
    description: str
    kind: str = "string"
    secret: bool = False
    choices: tuple[str, ...] = field(default=())
    default: Any = None

    def conn_field(self) -> dict[str, Any]:
        """The ``conn-fields`` entry for Airflow's provider info."""
        schema: dict[str, Any] = {"type": [self.kind, "null"]}
        if self.choices:
            schema["enum"] = [*self.choices, None]
        if self.default is not None:
            schema["default"] = self.default
        if self.secret:
            schema["format"] = "password"
        return {"label": self.label, "description": self.description, "schema": schema}


_REF_HELP = (
    "a secret reference: vault:<mount>/<path>#<key>, env:VAR, file:/path or "
    "airflow-conn:<conn id>#<field>"
)

EXTRA_FIELDS: Final[tuple[ExtraField, ...]] = (
    ExtraField(
        "preset",
        "Vendor preset",
        "How the vendor's token endpoint is spoken to (see 'vendorgate presets').",
        choices=(
            "techwolf-eu",
            "techwolf-us",
            "lonewolf",
            "tci-atm",
            "oauth2-basic",
            "oauth2-post",
            "oauth2-private-key-jwt",
            "wokelo",
        ),
    ),
    ExtraField("auth_url", "Token URL", "Token endpoint; empty: the preset's default."),
    ExtraField("audience", "Audience", "Audience sent in the token request (preset default)."),
    ExtraField(
        "tenant",
        "Tenant",
        "Tenant sent in the token request (required by techwolf-eu / techwolf-us).",
    ),
    ExtraField("scopes", "Scopes", "Space-separated scopes to request."),
    ExtraField(
        "client_auth",
        "Client authentication",
        "body, basic or assertion (private_key_jwt); empty: the preset's default.",
        choices=CLIENT_AUTH_CHOICES,
    ),
    ExtraField(
        "client_secret_ref",
        "Client secret reference",
        f"Instead of the Client secret field: {_REF_HELP}.",
        secret=True,
    ),
    ExtraField(
        "private_key_ref",
        "Private key reference (private_key_jwt)",
        f"A PEM private key as {_REF_HELP}.",
        secret=True,
    ),
    ExtraField(
        "transit_key",
        "Vault Transit key (private_key_jwt)",
        "<mount>/<key name>: client assertions are signed inside Vault.",
    ),
    ExtraField(
        "signing_alg", "Assertion algorithm", "RS256, PS256 or ES256.", choices=SIGNING_ALGS
    ),
    ExtraField(
        "password_grant_username",
        "Username reference (password grant)",
        f"The resource owner's username as {_REF_HELP}.",
        secret=True,
    ),
    ExtraField(
        "password_grant_password",
        "Password reference (password grant)",
        f"The resource owner's password as {_REF_HELP}.",
        secret=True,
    ),
    ExtraField(
        "extra_params",
        "Extra token request fields",
        'A JSON object of plain values, e.g. {"lwt_client_id": "customer-42"}.',
    ),
    ExtraField("vault_addr", "Vault address", "e.g. https://vault.example.com:8200."),
    ExtraField(
        "vault_auth_method",
        "Vault auth method",
        "token, approle, kubernetes or jwt; empty: the workers' VAULT_* variables.",
        choices=VAULT_AUTH_METHODS,
    ),
    ExtraField("vault_role_id", "Vault AppRole role id", "AppRole login (not a secret)."),
    ExtraField("vault_secret_id", "Vault AppRole secret id", "AppRole login secret.", secret=True),
    ExtraField("vault_token", "Vault token", "Token login.", secret=True),
    ExtraField("vault_role", "Vault role", "Kubernetes or JWT login: the Vault role."),
    ExtraField("vault_namespace", "Vault namespace", "Vault Enterprise / OpenBao namespace."),
    ExtraField(
        "cache",
        "Token cache",
        "Where workers share tokens: airflow-variable (default), file, redis, vault or memory.",
        choices=CACHE_STORES,
    ),
    ExtraField(
        "cache_lock",
        "Token refresh lock",
        "Who serialises refreshes: file (one host, default), redis or vault (many hosts), "
        "none (duplicate refreshes possible, never a lost token).",
        choices=CACHE_LOCKS,
    ),
    ExtraField(
        "cache_dir",
        "Cache directory",
        "The file store or file lock directory (default: $AIRFLOW_HOME/vendorgate-cache).",
    ),
    ExtraField(
        "cache_url",
        "Cache URL",
        "The Redis URL (redis store or lock), without a password: put it in Cache password.",
    ),
    ExtraField(
        "cache_password",
        "Cache password",
        "The Redis password, if the server asks for one (masked by Airflow).",
        secret=True,
    ),
    ExtraField(
        "timeout_s", "Request timeout (s)", "Timeout of API and token requests.", kind="number"
    ),
)
