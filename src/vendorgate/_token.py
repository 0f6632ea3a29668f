"""The access token value object, a leaf shared by the cache, the tokens and the client."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Token"]


@dataclass(frozen=True)
class Token:
    """An access token and what is known about its lifetime.

    Secrets (``access_token``, ``refresh_token``, ``id_token``) are excluded from
    ``repr``. Times are Unix epoch seconds (``time.time()`` clock).

    Attributes:
        access_token: The bearer token sent as ``Authorization: Bearer <token>``.
        expires_at: When the vendor says the token stops being valid.
        issued_at: When the token was received (local clock).
        token_type: Usually ``"Bearer"``.
        scope: Space-separated scopes granted, when the vendor says.
        refresh_token: Refresh token, for dialects that keep one (TCI, Wokelo).
        id_token: ID token, for dialects whose refresh grant needs it (TCI).
    """

    access_token: str = field(repr=False)
    expires_at: float
    issued_at: float
    token_type: str = "Bearer"
    scope: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)

    @property
    def lifetime_s(self) -> float:
        """Total lifetime in seconds, as granted."""
        return self.expires_at - self.issued_at

    def remaining_s(self, now: float | None = None) -> float:
        """Seconds left before the token expires (negative once expired)."""
        return self.expires_at - (time.time() if now is None else now)

    @property
    def fingerprint(self) -> str:
        """A short, non-reversible id of the access token, safe to log and compare."""
        return hashlib.sha256(self.access_token.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for cache backends (contains secrets: store accordingly)."""
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "token_type": self.token_type,
            "scope": self.scope,
            "refresh_token": self.refresh_token,
            "id_token": self.id_token,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Token:
        """Inverse of :meth:`to_dict`; raises ValueError, KeyError or TypeError on bad data."""
        access_token = data["access_token"]
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("access_token must be a non-empty string")
        return cls(
            access_token=access_token,
            expires_at=float(data["expires_at"]),
            issued_at=float(data["issued_at"]),
            token_type=str(data.get("token_type") or "Bearer"),
            scope=data.get("scope"),
            refresh_token=data.get("refresh_token"),
            id_token=data.get("id_token"),
        )
