"""Secret references and Vault: where vendorgate gets client secrets and private keys.

A *secret reference* is one short string users write wherever a secret is expected
(``vault:secret/vendors/techwolf#client_secret``, ``env:VAR``, ``file:PATH``,
``literal:VALUE``); :class:`SecretResolver` turns it into a :class:`~vendorgate.Secret`.
Importing this package is cheap: hvac is imported on the first Vault call.
"""

from __future__ import annotations

from vendorgate.secrets._ref import ACCEPTED_FORMS, SecretRef, parse_secret_ref
from vendorgate.secrets._resolver import SecretResolver, default_resolver, resolve_local
from vendorgate.secrets._session import VaultSession, vault_error_from
from vendorgate.secrets._settings import AUTH_METHODS, VaultSettings

__all__ = [
    "ACCEPTED_FORMS",
    "AUTH_METHODS",
    "SecretRef",
    "SecretResolver",
    "VaultSession",
    "VaultSettings",
    "default_resolver",
    "parse_secret_ref",
    "resolve_local",
    "vault_error_from",
]
