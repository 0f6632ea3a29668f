"""Secret references and Vault: where vendorgate gets client secrets and private keys.

A *secret reference* is one short string users write wherever a secret is expected
(``vault:secret/vendors/techwolf#client_secret``, ``env:VAR``, ``file:PATH``,
``literal:VALUE``, or a scheme added with :func:`register_secret_scheme`);
:class:`SecretResolver` turns it into a :class:`~vendorgate.Secret`. A secret value a
framework already holds (a ``Secret``, a pydantic ``SecretStr``) is used as it is.
Importing this package is cheap: hvac is imported on the first Vault call.
"""

from __future__ import annotations

from vendorgate.secrets._ref import (
    ACCEPTED_FORMS,
    SecretRef,
    accepted_forms,
    parse_secret_ref,
    register_secret_scheme,
    secret_schemes,
    unregister_secret_scheme,
)
from vendorgate.secrets._resolver import (
    SecretResolver,
    SecretValue,
    default_resolver,
    resolve_local,
    secret_value,
)
from vendorgate.secrets._session import MAX_VAULT_REPLY_BYTES, VaultSession, vault_error_from
from vendorgate.secrets._settings import AUTH_METHODS, VaultSettings

__all__ = [
    "ACCEPTED_FORMS",
    "AUTH_METHODS",
    "MAX_VAULT_REPLY_BYTES",
    "SecretRef",
    "SecretResolver",
    "SecretValue",
    "VaultSession",
    "VaultSettings",
    "accepted_forms",
    "default_resolver",
    "parse_secret_ref",
    "register_secret_scheme",
    "resolve_local",
    "secret_schemes",
    "secret_value",
    "unregister_secret_scheme",
    "vault_error_from",
]
