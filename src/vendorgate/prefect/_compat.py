"""Calling Prefect's dual sync/async functions synchronously from any context."""

from __future__ import annotations

from typing import Any

__all__ = ["run_sync"]


def run_sync(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` (``Block.load``, ``Block.save``, ``create_*_artifact``) synchronously.

    These functions return a coroutine when they guess an async context (an async task
    or flow run); vendorgate's synchronous code paths ask for the sync form explicitly.
    """
    return fn(*args, _sync=True, **kwargs)
