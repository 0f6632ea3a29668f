"""Helpers shared by the test servers that run as child processes (OpenBao, sandbox)."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["die_with_parent_preexec"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM the child when the thread that started it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: S110 - best effort: atexit and __exit__ still stop it
        pass


def die_with_parent_preexec(enabled: bool = True) -> Callable[[], None] | None:
    """A ``preexec_fn`` that stops the child if its parent is killed hard (Linux only)."""
    return _die_with_parent if enabled and sys.platform.startswith("linux") else None
