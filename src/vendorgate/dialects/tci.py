"""TCI "ATM" token service: camelCase JSON, ``grant_types``, ``exp_access_token``, JWKS.

The primary request is ``{clientId, clientSecret, grant_types: "client_credentials"}``;
the reply carries ``access_token``, ``exp_access_token`` (600 s) and, as vendorgate and
its sandbox define it, ``refresh_token`` and ``id_token``. The refresh request is
``{clientId, refresh_token, id_token, grantType: "refresh_token"}`` (note the different
grant key). Access tokens are RS256 JWTs verified against ``.well-known/jwks.json`` next
to the token URL (``/auth/.well-known/jwks.json``) by ``kid``, signature and ``exp``. Their
``aud`` is an application id that differs from the ``clientId`` (document 002's decoded
token), so it is checked only when ``expected_audience`` is configured.
"""

from __future__ import annotations

from vendorgate.dialects._model import Dialect, RefreshGrant
from vendorgate.dialects._registry import register

__all__ = ["TCI_ATM"]

TCI_ATM = register(
    Dialect(
        name="tci-atm",
        description="TCI ATM token service (camelCase JSON, refresh grant, JWKS-verified tokens)",
        token_url="https://api.dev.token.tci-pf.net/auth/token",
        encoding="json",
        client_id_field="clientId",
        client_secret_field="clientSecret",
        grant_type_field="grant_types",
        lifetime_field="exp_access_token",
        default_lifetime_s=600,
        keeps_refresh_token=True,
        refresh=RefreshGrant(
            grant_type_field="grantType",
            client_id_field="clientId",
            id_token_field="id_token",
            send_client_secret=False,
        ),
        jwks_path=".well-known/jwks.json",
        jwks_audience=None,
    )
)
