"""Token engine: dialect-aware token requests, validation and the token provider."""

from vendorgate.tokens._protocol import TokenSource
from vendorgate.tokens._token import Token

__all__ = ["Token", "TokenSource"]
