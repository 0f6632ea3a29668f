"""Wokelo: password grant over multipart form-data to ``/auth/token/`` (trailing slash).

Fields ``client_id``, ``client_secret``, ``username``, ``password``,
``grant_type=password``; the reply keeps a ``refresh_token``, used (with the client
credentials, over form-data) when the 30-day access token expires.
"""

from __future__ import annotations

from vendorgate.dialects._model import Dialect, RefreshGrant
from vendorgate.dialects._registry import register

__all__ = ["WOKELO"]

WOKELO = register(
    Dialect(
        name="wokelo",
        description="Wokelo (password grant over multipart form-data, refresh token)",
        token_url="https://api.wokelo.ai/auth/token/",
        encoding="multipart",
        grant_type="password",
        default_lifetime_s=2628288,
        keeps_refresh_token=True,
        refresh=RefreshGrant(send_client_secret=True),
    )
)
