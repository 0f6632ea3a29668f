"""What the HTTP client needs from a token provider (the token engine implements it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from vendorgate._token import Token

__all__ = ["TokenSource"]


@runtime_checkable
class TokenSource(Protocol):
    """A cached source of valid access tokens for one vendor client.

    Attributes:
        vendor: Preset or dialect name, used in errors and logs.
        invalid_token_statuses: API statuses that mean "this token is no longer good"
            (``{401}`` for most vendors, ``{401, 403}`` for Lone Wolf).
    """

    vendor: str
    invalid_token_statuses: frozenset[int]

    def get_token(self) -> Token:
        """Return a valid token, fetching (once, for everyone) when needed."""
        ...

    async def aget_token(self) -> Token:
        """Async :meth:`get_token`."""
        ...

    def invalidate(self, token: Token) -> bool:
        """Drop ``token`` from every cache level if it is still the stored one."""
        ...

    async def ainvalidate(self, token: Token) -> bool:
        """Async :meth:`invalidate`."""
        ...
