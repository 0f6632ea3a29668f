"""Helpers shared by the HTTP client tests: a fake token source and canned replies."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vendorgate.tokens import Token

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

    from vendorgate.http import OutputWriter


class FakeSource:
    """A TokenSource handing out numbered tokens; records invalidations."""

    vendor = "fake"

    def __init__(self, invalid: frozenset[int] = frozenset({401})) -> None:
        self.invalid_token_statuses = invalid
        self.issued = 0
        self.current: Token | None = None
        self.invalidated: list[Token] = []

    def _new(self) -> Token:
        self.issued += 1
        now = time.time()
        return Token(
            access_token=f"s3cr3t-token-{self.issued}", expires_at=now + 3600, issued_at=now
        )

    def get_token(self) -> Token:
        if self.current is None:
            self.current = self._new()
        return self.current

    async def aget_token(self) -> Token:
        return self.get_token()

    def invalidate(self, token: Token) -> bool:
        self.invalidated.append(token)
        if self.current == token:
            self.current = None
            return True
        return False

    async def ainvalidate(self, token: Token) -> bool:
        return self.invalidate(token)


def provider_for(sandbox, preset: str = "lonewolf"):  # type: ignore[no-untyped-def]
    """A real TokenProvider for the sandbox's demo client, with its own memory cache."""
    from vendorgate.cache import TokenCache
    from vendorgate.tokens import TokenConfig, TokenProvider

    demo = sandbox.demo_credentials(preset)
    config = TokenConfig.from_mapping(
        {
            "preset": preset,
            "client_id": demo["client_id"],
            "client_secret": "literal:" + demo["client_secret"].reveal(),
            "token_url": sandbox.token_url(preset),
        }
    )
    return TokenProvider(config, cache=TokenCache())


def commit_killed_before_checkpoint_removal(
    writer: OutputWriter, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Write one page with ``writer`` and commit it, killed (``KeyboardInterrupt``) after
    the file is in place and before its checkpoint is removed; return the checkpoint."""
    writer.open()
    writer.write_page([{"id": 1}, {"id": 2}], None)
    with killed_at_removal_of(writer.output.checkpoint_file, monkeypatch):
        writer.commit()
    return writer.output.checkpoint_file


@contextmanager
def killed_at_removal_of(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Within the block, removing ``checkpoint`` kills the process (``KeyboardInterrupt``,
    after the file was moved into place); the block must end that way."""
    import pytest

    real_unlink = Path.unlink

    def crash(self: Path, missing_ok: bool = False) -> None:
        if self == checkpoint:
            raise KeyboardInterrupt("killed after the move")
        real_unlink(self, missing_ok=missing_ok)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "unlink", crash)
        with pytest.raises(KeyboardInterrupt):
            yield
