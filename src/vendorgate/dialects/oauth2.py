"""Generic RFC 6749 / RFC 7523 client credentials over form-urlencoded bodies.

``oauth2-basic`` is client_secret_basic (the 003 document: HTTP Basic, 403 = missing
permissions, so only 401 means a stale token); ``oauth2-post`` is client_secret_post;
``oauth2-private-key-jwt`` is RFC 7523 private_key_jwt. No default token URL.
"""

from __future__ import annotations

from vendorgate.dialects._model import Dialect
from vendorgate.dialects._registry import register

__all__ = ["OAUTH2_BASIC", "OAUTH2_POST", "OAUTH2_PRIVATE_KEY_JWT"]

OAUTH2_BASIC = register(
    Dialect(
        name="oauth2-basic",
        description="RFC 6749 client credentials, client_secret_basic (HTTP Basic), form body",
        encoding="form",
        client_auth="basic",
        supported_client_auth=frozenset({"basic", "body", "assertion"}),
        send_client_id_with_assertion=True,
    )
)

OAUTH2_POST = register(
    OAUTH2_BASIC.with_overrides(
        {
            "name": "oauth2-post",
            "description": "RFC 6749 client credentials, client_secret_post (secret in the body)",
            "client_auth": "body",
        }
    )
)

OAUTH2_PRIVATE_KEY_JWT = register(
    OAUTH2_BASIC.with_overrides(
        {
            "name": "oauth2-private-key-jwt",
            "description": "RFC 7523 private_key_jwt assertion (PEM or Vault Transit), form body",
            "client_auth": "assertion",
        }
    )
)
