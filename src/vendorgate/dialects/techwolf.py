"""TechWolf Skill Engine (Auth0): JSON body, region-specific URL and audience.

Client secret in the body or private_key_jwt (RS256 assertion, aud = token URL);
``tenant`` (required) and optional ``scopes`` as a JSON array; ``expires_in`` 10800 s.
"""

from __future__ import annotations

from vendorgate.dialects._model import Dialect
from vendorgate.dialects._registry import register

__all__ = ["TECHWOLF_EU", "TECHWOLF_US"]

TECHWOLF_EU = register(
    Dialect(
        name="techwolf-eu",
        description="TechWolf Skill Engine, EU tenants (secret or private_key_jwt, JSON)",
        token_url="https://techwolf.eu.auth0.com/oauth/token",
        encoding="json",
        client_auth="body",
        supported_client_auth=frozenset({"body", "assertion"}),
        audience="eu3.techwolf.ai",
        scope_field="scopes",
        scope_format="array",
        default_lifetime_s=10800,
        required_fields=("tenant",),
    )
)

TECHWOLF_US = register(
    TECHWOLF_EU.with_overrides(
        {
            "name": "techwolf-us",
            "description": "TechWolf Skill Engine, US tenants (secret or private_key_jwt, JSON)",
            "token_url": "https://techwolf-us.us.auth0.com/oauth/token",
            "audience": "us3.techwolf.ai",
        }
    )
)
