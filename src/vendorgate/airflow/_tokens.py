"""Token sources that register every secret and token with Airflow's masker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate.airflow._masking import amask_token, mask, mask_token
from vendorgate.secrets import SecretResolver

if TYPE_CHECKING:
    from vendorgate._secret import Secret
    from vendorgate.secrets import SecretRef
    from vendorgate.secrets._resolver import SecretValue
    from vendorgate.tokens import Token, TokenProvider

__all__ = ["MaskingResolver", "MaskingSource"]


class MaskingResolver(SecretResolver):
    """A :class:`SecretResolver` that masks every value it resolves."""

    def resolve(self, ref: str | SecretRef | SecretValue, *, field: str) -> Secret:
        """Resolve ``ref`` and register the value with Airflow's masker."""
        value = super().resolve(ref, field=field)
        mask(value, field)
        return value


class MaskingSource:
    """Wraps a token provider: every token handed out is registered with the masker first."""

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider
        self.vendor = provider.vendor
        self.invalid_token_statuses = provider.invalid_token_statuses

    def __repr__(self) -> str:
        return f"MaskingSource({self.provider!r})"

    def get_token(self) -> Token:
        """A valid token, masked."""
        return mask_token(self.provider.get_token())

    async def aget_token(self) -> Token:
        """Async :meth:`get_token`."""
        return await amask_token(await self.provider.aget_token())

    def invalidate(self, token: Token) -> bool:
        """Drop ``token`` from the cache if it is still the stored one."""
        return self.provider.invalidate(token)

    async def ainvalidate(self, token: Token) -> bool:
        """Async :meth:`invalidate`."""
        return await self.provider.ainvalidate(token)
