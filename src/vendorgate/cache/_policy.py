"""When a cached token is replaced: proactive refresh, minimum margin, jitter, clock skew."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vendorgate._errors import ConfigurationError

if TYPE_CHECKING:
    from vendorgate._token import Token

__all__ = ["RefreshPolicy"]


@dataclass(frozen=True)
class RefreshPolicy:
    """Decides the moment a token stops being served from the cache.

    For a token of lifetime ``L`` (``expires_at - issued_at``) the *refresh margin* is::

        margin = max((1 - refresh_ratio) * L, min(min_margin_s + clock_skew_s, L / 2))

    that is, the token is replaced once ``refresh_ratio`` of its lifetime has passed, or
    earlier when less than ``min_margin_s`` (plus the tolerated clock skew) would be left;
    the minimum margin never discards more than half of a very short token. A random
    jitter drawn uniformly from ``[0, jitter_ratio * L]`` (at most ``max_jitter_s``) then
    moves the refresh moment *earlier*, never later, so workers do not all refresh in the
    same second::

        refresh_at = expires_at - margin - jitter

    Attributes:
        refresh_ratio: Share of the lifetime after which a token is replaced (0 < r <= 1).
        min_margin_s: Seconds of validity a served token keeps at least (bounded by L / 2).
        jitter_ratio: Upper bound of the random jitter, as a share of the lifetime.
        max_jitter_s: Absolute upper bound of the jitter in seconds.
        clock_skew_s: Tolerated difference between the clocks of workers and vendor.
    """

    refresh_ratio: float = 0.9
    min_margin_s: float = 30.0
    jitter_ratio: float = 0.02
    max_jitter_s: float = 60.0
    clock_skew_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 < self.refresh_ratio <= 1.0:
            raise ConfigurationError(
                f"must be in (0, 1], got {self.refresh_ratio!r}; 0.9 replaces a token "
                "after 90 % of its lifetime",
                field="refresh_ratio",
            )
        for name in ("min_margin_s", "jitter_ratio", "max_jitter_s", "clock_skew_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"must be a number >= 0, got {value!r}", field=name)
        if self.jitter_ratio >= 0.5:
            raise ConfigurationError(
                f"must be below 0.5, got {self.jitter_ratio!r}; a few percent is enough",
                field="jitter_ratio",
            )

    def margin_s(self, token: Token) -> float:
        """The refresh margin of ``token`` before jitter (see the class docstring)."""
        lifetime = max(token.lifetime_s, 0.0)
        return max(
            (1.0 - self.refresh_ratio) * lifetime,
            min(self.min_margin_s + self.clock_skew_s, lifetime / 2.0),
        )

    def max_jitter_for(self, token: Token) -> float:
        """Upper bound of the jitter for ``token``, in seconds."""
        return min(self.jitter_ratio * max(token.lifetime_s, 0.0), self.max_jitter_s)

    def refresh_at(self, token: Token, rng: random.Random | None = None) -> float:
        """Epoch second from which ``token`` is no longer served, jitter included."""
        bound = self.max_jitter_for(token)
        jitter = (rng or random).uniform(0.0, bound) if bound > 0 else 0.0
        return token.expires_at - self.margin_s(token) - jitter

    def usable_until(self, token: Token) -> float:
        """Until when a token due for refresh may still be served while another worker
        refreshes it: ``expires_at - max(clock_skew_s, (1 - refresh_ratio) * L / 2)``."""
        lifetime = max(token.lifetime_s, 0.0)
        return token.expires_at - max(self.clock_skew_s, (1.0 - self.refresh_ratio) * lifetime / 2)
