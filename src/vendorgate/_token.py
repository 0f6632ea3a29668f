"""The access token value object, a leaf shared by the cache, the tokens and the client."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_TOKEN_LIFETIME_S", "MAX_TOKEN_REPLY_BYTES", "Token"]

#: The longest lifetime vendorgate believes a token has: 366 days. A reply (``expires_in``)
#: or a JWT ``exp`` that says more is capped at this, so a cache entry (and a Redis
#: expiry) always ends; non-finite values are refused.
MAX_TOKEN_LIFETIME_S: float = 366 * 86400.0

#: The largest token reply read: 256 KiB (real replies are a few KiB; a larger one is a
#: :class:`~vendorgate.TokenResponseError` and the rest is not read).
MAX_TOKEN_REPLY_BYTES: int = 256 * 1024


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
        vendor_issued_at: When the vendor issued the token by the vendor's own clock
            (the access token's ``iat`` claim), when known.
        expires_in_s: The lifetime as the vendor stated it (``expires_in``, or
            ``exp - iat`` of the access token), when ``vendor_issued_at`` is known.

    ``expires_at`` and ``issued_at`` are on the clock of the worker that received the
    token. With ``vendor_issued_at`` and ``expires_in_s`` a reader on another host can
    judge the expiry by the vendor's clock instead (see :meth:`expires_at_for`): a
    shared cache then does not depend on the clock of the worker that fetched.
    """

    access_token: str = field(repr=False)
    expires_at: float
    issued_at: float
    token_type: str = "Bearer"
    scope: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    vendor_issued_at: float | None = None
    expires_in_s: float | None = None

    @property
    def lifetime_s(self) -> float:
        """Total lifetime in seconds, as granted."""
        return self.expires_at - self.issued_at

    def remaining_s(self, now: float | None = None) -> float:
        """Seconds left before the token expires (negative once expired)."""
        return self.expires_at - (time.time() if now is None else now)

    @property
    def vendor_expires_at(self) -> float | None:
        """The expiry by the vendor's clock, when the vendor's issue time is known."""
        if self.vendor_issued_at is None or self.expires_in_s is None:
            return None
        return self.vendor_issued_at + self.expires_in_s

    @property
    def clock_offset_s(self) -> float | None:
        """How far the receiving worker's clock was ahead of the vendor's (network
        latency included), when the vendor's issue time is known."""
        if self.vendor_issued_at is None:
            return None
        return self.issued_at - self.vendor_issued_at

    def expires_at_for(self, clock_offset_s: float | None) -> float:
        """The expiry on a reader's clock.

        Args:
            clock_offset_s: How far the reader's clock is ahead of the vendor's
                (``None``: unknown).

        Returns:
            ``vendor_expires_at + clock_offset_s`` when both are known; with an unknown
            offset, the earlier of ``expires_at`` (the receiving worker's clock) and
            ``vendor_expires_at`` (the reader's clock taken as the vendor's), so that
            neither a skewed fetcher nor a skewed vendor makes a reader keep a token too
            long; ``expires_at`` when the vendor's times are unknown.
        """
        vendor = self.vendor_expires_at
        if vendor is None:
            return self.expires_at
        if clock_offset_s is None:
            return min(self.expires_at, vendor)
        return vendor + clock_offset_s

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
            "vendor_issued_at": self.vendor_issued_at,
            "expires_in_s": self.expires_in_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Token:
        """Inverse of :meth:`to_dict`; raises ValueError, KeyError or TypeError on bad data.

        Entries written before ``vendor_issued_at``/``expires_in_s`` existed read as
        ``None`` for both (expiry then judged by ``expires_at``).
        """
        access_token = data["access_token"]
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("access_token must be a non-empty string")
        vendor_issued_at = _optional_time(data.get("vendor_issued_at"))
        expires_in_s = _optional_time(data.get("expires_in_s"))
        if vendor_issued_at is None or expires_in_s is None:
            vendor_issued_at = expires_in_s = None
        return cls(
            access_token=access_token,
            expires_at=float(data["expires_at"]),
            issued_at=float(data["issued_at"]),
            token_type=str(data.get("token_type") or "Bearer"),
            scope=data.get("scope"),
            refresh_token=data.get("refresh_token"),
            id_token=data.get("id_token"),
            vendor_issued_at=vendor_issued_at,
            expires_in_s=expires_in_s,
        )


def _optional_time(value: object) -> float | None:
    """A finite number of seconds, or ``None`` (absent or unusable: the field is ignored)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
