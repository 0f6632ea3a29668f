"""The one interface every assertion signer implements."""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

__all__ = ["SUPPORTED_ALGORITHMS", "AssertionSigner"]

#: JOSE algorithms vendorgate signs client assertions with.
SUPPORTED_ALGORITHMS: Final = ("RS256", "PS256", "ES256")


@runtime_checkable
class AssertionSigner(Protocol):
    """Signs a JWS signing input (``base64url(header) + "." + base64url(payload)``).

    Attributes:
        alg: The JOSE algorithm (``"RS256"``, ``"PS256"`` or ``"ES256"``).
        kid: The key id to put in the JWS header, or ``None`` when unknown.
    """

    @property
    def alg(self) -> str:
        """The JOSE algorithm name."""
        ...

    @property
    def kid(self) -> str | None:
        """The key id for the JWS header, or ``None``."""
        ...

    def sign(self, signing_input: bytes) -> bytes:
        """Return the raw JOSE signature of ``signing_input`` (ES256: 64-byte ``r || s``)."""
        ...
