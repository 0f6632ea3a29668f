"""Calling Prefect's dual sync/async functions synchronously from any context."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["CapturedSettings", "run_sync"]


def run_sync(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` (``Block.load``, ``Block.save``, ``create_*_artifact``) synchronously.

    These functions return a coroutine when they guess an async context (an async task
    or flow run); vendorgate's synchronous code paths ask for the sync form explicitly.
    """
    return fn(*args, _sync=True, **kwargs)


class CapturedSettings:
    """The Prefect settings of the context that built an object, re-entered on each use.

    Prefect keeps its settings (the API URL among them) in a context variable. A token
    store or lock is built once per process and then used from any thread (a task
    runner's, the token cache's); each use runs under the settings it was built with,
    so it talks to the same Prefect API as the code that created it.
    """

    def __init__(self) -> None:
        from prefect.context import get_settings_context

        context = get_settings_context()
        self._profile = context.profile
        self._settings = context.settings

    def __call__(self) -> AbstractContextManager[Any]:
        from prefect.context import SettingsContext, get_settings_context

        if get_settings_context().settings is self._settings:
            return contextlib.nullcontext()
        context: AbstractContextManager[Any] = SettingsContext(
            profile=self._profile, settings=self._settings
        )
        return context
