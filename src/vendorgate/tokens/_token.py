"""Re-export of :class:`~vendorgate.tokens.Token`, which lives in the leaf ``vendorgate._token``."""

from __future__ import annotations

from vendorgate._token import Token

__all__ = ["Token"]
