"""High-water marks of incremental pulls in Prefect Variables (one Variable per mark).

:class:`PrefectVariableStateStore` is the default store of ``extract_vendor_data(...,
incremental={...})``. Why a Variable and not a block: a mark is small, non-secret JSON
that changes once per run, which is what Prefect Variables are for (named JSON values,
shown and editable in the UI, ``prefect variable get/set/unset``, one API call to read
or write). A block would add a block type to register, a schema and document
versions for a value that needs none of them; what a block adds for the token cache
(a ``SecretStr`` field, encrypted at rest) is not needed, since the state holds only the
mark and file paths, never a secret.

The Variable name is ``vendorgate-mark-<slug>-<hash>`` (Prefect allows lowercase letters,
digits, ``-`` and ``_``; the hash keeps two keys with the same slug apart). Its value is
the :class:`~vendorgate.http.Incremental` state as a JSON object, ``{"mark": 154}``.

Variables are upserts (read, then update or create): no compare-and-set. One run at a
time per mark keeps the exactly-once guarantee; give the deployment
``concurrency_limit=1``. Two overlapping runs both start from the same mark and the last
to finish writes its own: records are fetched twice (into both outputs), never lost.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import Any

from vendorgate._errors import ConfigurationError
from vendorgate.prefect._compat import run_sync

__all__ = ["MARK_PREFIX", "PrefectVariableStateStore"]

#: Prefix of the mark Variables' names.
MARK_PREFIX = "vendorgate-mark-"
_SLUG = re.compile(r"[^a-z0-9_-]+")
_MAX_NAME = 255  # prefect.types.MAX_VARIABLE_NAME_LENGTH


def _errors() -> tuple[type[BaseException], ...]:
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    return (httpx.HTTPError, PrefectHTTPStatusError, OSError, RuntimeError, ValueError)


class PrefectVariableStateStore:
    """Incremental marks in Prefect Variables.

    Each use runs under the Prefect settings of the context that built the store (the
    same API as the flow), from any thread: the async task calls it off the event loop.

    Args:
        prefix: Prefix of the Variable names (lowercase letters, digits, ``-``, ``_``).

    Example:
        ```python
        from vendorgate.http import Incremental
        from vendorgate.prefect import PrefectVariableStateStore

        items = Incremental(
            store=PrefectVariableStateStore(), key="acme.items", field="id", param="since_id"
        )
        ```
    """

    def __init__(self, *, prefix: str = MARK_PREFIX) -> None:
        from vendorgate.prefect._compat import CapturedSettings

        if not isinstance(prefix, str) or _SLUG.sub("", prefix) != prefix or len(prefix) > 64:
            raise ConfigurationError(
                "must be up to 64 lowercase letters, digits, '-' or '_'", field="prefix"
            )
        self.prefix = prefix
        self._settings = CapturedSettings()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PrefectVariableStateStore(prefix={self.prefix!r})"

    def variable_name(self, key: str) -> str:
        """The Variable name of mark ``key``: its slug and a short hash of the key."""
        slug = _SLUG.sub("-", key.lower()).strip("-")[: _MAX_NAME - len(self.prefix) - 13]
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return f"{self.prefix}{slug}-{digest}" if slug else f"{self.prefix}{digest}"

    def get(self, key: str) -> str | None:
        """The stored state of ``key`` (``None``: never set, the first run pulls from the start)."""
        from prefect.variables import Variable

        name = self.variable_name(key)
        try:
            with self._settings():
                value: Any = run_sync(Variable.get, name, default=None)
        except _errors() as exc:
            from vendorgate.http._incremental import StateStoreError

            raise StateStoreError(
                f"cannot read the Prefect Variable {name!r} holding the incremental mark "
                f"({type(exc).__name__}): check that the flow reaches the Prefect API; "
                "nothing was pulled"
            ) from exc
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True)

    def set(self, key: str, value: str) -> None:
        """Store the state of ``key`` (as a JSON object when it is one, for the UI)."""
        from prefect.variables import Variable

        name = self.variable_name(key)
        try:
            stored: Any = json.loads(value)
        except ValueError:
            stored = value
        try:
            with self._lock, self._settings():
                run_sync(
                    Variable.set, name, stored, tags=["vendorgate", "incremental"], overwrite=True
                )
        except _errors() as exc:
            from vendorgate.http._incremental import StateStoreError

            raise StateStoreError(
                f"cannot write the Prefect Variable {name!r} holding the incremental mark "
                f"({type(exc).__name__}): rerun the flow; the next run resolves the stored "
                "intent, so no record is lost or repeated"
            ) from exc
