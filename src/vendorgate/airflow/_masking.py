"""Register secrets and tokens with Airflow's masker the moment vendorgate obtains them.

``airflow.sdk.log.mask_secret`` adds a value to the masker of this process and tells the
task supervisor (whose log output is masked separately). Each value is registered once
per process: a token used for a thousand requests is sent to the supervisor once.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vendorgate._secret import Secret
    from vendorgate.tokens import Token

__all__ = ["amask_token", "mask", "mask_token"]

_seen: set[str] = set()
_guard = threading.Lock()


def _first_time(value: str) -> bool:
    digest = hashlib.sha256(value.encode()).hexdigest()
    with _guard:
        if digest in _seen:
            return False
        _seen.add(digest)
        return True


def _plain(value: str | Secret | None) -> str | None:
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)
    text = reveal() if callable(reveal) else value
    return text if isinstance(text, str) and text else None


def mask(value: str | Secret | None, name: str | None = None) -> None:
    """Register ``value`` (a secret) with Airflow's masker; no-op for empty values."""
    text = _plain(value)
    if text is None or not _first_time(text):
        return
    from airflow.sdk.log import mask_secret

    mask_secret(text, name)


async def amask(value: str | Secret | None, name: str | None = None) -> None:
    """Async :func:`mask` (safe inside a running event loop: a triggerer, an async task)."""
    text = _plain(value)
    if text is None or not _first_time(text):
        return
    from airflow.sdk.log import amask_secret

    await amask_secret(text, name)


def _token_values(token: Token) -> tuple[str | None, ...]:
    return (token.access_token, token.refresh_token, token.id_token)


def mask_token(token: Token) -> Token:
    """Register every secret of ``token`` with the masker; return the token."""
    for value in _token_values(token):
        mask(value, "access_token")
    return token


async def amask_token(token: Token) -> Token:
    """Async :func:`mask_token`."""
    for value in _token_values(token):
        await amask(value, "access_token")
    return token
