"""Lone Wolf Back Office: JSON client credentials, fixed audience, 403 = expired token.

Optional ``lwt_client_id`` (customer instance) goes in ``TokenConfig.extra_params``.
"""

from __future__ import annotations

from vendorgate.dialects._model import Dialect
from vendorgate.dialects._registry import register

__all__ = ["LONEWOLF"]

LONEWOLF = register(
    Dialect(
        name="lonewolf",
        description="Lone Wolf Back Office (JSON client credentials; 401/403 mean a stale token)",
        token_url="https://gateway.lwolf.com/oauth/token",
        encoding="json",
        audience="https://api.lwolf.com",
        default_lifetime_s=86400,
        invalid_token_statuses=frozenset({401, 403}),
    )
)
