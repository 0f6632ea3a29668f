"""Incremental pulls: resume from where the last *successful* run stopped.

A pull with an :class:`Incremental` reads a high-water mark from its
:class:`StateStore` (``None`` before the first run), sends it as the vendor's parameter
(``since_id=1234``, ``updated_since=2026-01-01T00:00:00Z``), tracks the largest value of
a record field (``id``, ``updated_at``, ``meta.modified``) over every record it writes,
and stores that mark only after the output is committed.

Exactly once across a crash. The state holds ``{"mark": M}``. Just before the commit the
pull writes an *intent*, ``{"mark": M, "pending": {"output", "partial", "mark": M2,
"bytes", "sha256"}}`` (the size and digest of the file the commit publishes); after the
commit, ``{"mark": M2}``. A run that finds an intent resolves it first:

* the intent is for the output this run writes (a rerun of the same run): the mark stays
  ``M`` and the run fetches again from ``M``, replacing that output (a superset of what
  it held): every record once;
* the intent is for another output: the mark moves on to ``M2`` only if that output now
  holds exactly the file the intent describes (same size and SHA-256), looked up where
  every host sees it (the local path, or the fsspec URL with this run's
  ``storage_options``). Otherwise it stays ``M``: those records were never published (the
  commit failed, e.g. its upload) and this run fetches them. The staging directory of an
  fsspec output is never consulted: the next run may run on another host. For a local
  output a partial file still beside it also means "not committed".

A crash between the commit and the state write therefore neither loses nor duplicates a
record, as long as the published file stays where it was written until the next run (a
file moved away or changed meanwhile counts as not published: its records are fetched
again, a duplicate rather than a loss). The store must keep a ``set`` once it returns (a
file is written atomically and fsynced); one pull at a time per key (the output's claim
already serialises pulls to the same output).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from vendorgate._errors import BadResponseError, ConfigurationError, VendorgateError
from vendorgate.http._output import Output, as_output

if TYPE_CHECKING:
    from collections.abc import Iterable

    from vendorgate.http._output import OutputWriter

__all__ = ["FileStateStore", "Incremental", "IncrementalRun", "StateStore", "StateStoreError"]

#: The keys of an ``incremental={...}`` option of the adapters' operators and tasks.
OPTION_KEYS = ("field", "param", "key", "initial", "store")


class StateStoreError(VendorgateError):
    """A state store could not read or write a high-water mark (an adapter's backend)."""


@runtime_checkable
class StateStore(Protocol):
    """Where incremental pulls keep their high-water marks (text values by key).

    The core ships :class:`FileStateStore`; the Airflow and Prefect adapters provide
    stores on an Airflow Variable and a Prefect variable or block.
    """

    def get(self, key: str) -> str | None:
        """The value stored under ``key`` (``None``: never set)."""
        ...

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``; durable once it returns."""
        ...


class FileStateStore:
    """A JSON file of ``{key: value}``, replaced atomically (and fsynced) on each set.

    Args:
        path: The file; created with its directory on the first :meth:`set`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not str(path):
            raise ConfigurationError("must be a file path", field="path")
        self.path = Path(path)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileStateStore({str(self.path)!r})"

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"{self.path} is not a readable JSON state file ({type(exc).__name__}): "
                "fix or remove it (the next pull then starts from the beginning)",
                field="path",
            ) from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{self.path} must hold a JSON object of marks", field="path")
        return {str(k): str(v) for k, v in data.items()}

    def get(self, key: str) -> str | None:
        """The value stored under ``key`` (``None``: never set)."""
        with self._lock:
            return self._load().get(key)

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``: write a temp file, fsync, rename over the file."""
        with self._lock:
            data = self._load()
            data[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, sort_keys=True, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


@dataclass(frozen=True, kw_only=True)
class Incremental:
    """How a pull resumes from the last successful run's high-water mark.

    Attributes:
        store: Where the mark is kept between runs.
        key: The mark's name in the store (one per data set, e.g. ``"lonewolf.items"``).
        field: The record field the mark is read from; dots go into nested objects
            (``"updated_at"``, ``"meta.id"``). Values must compare with each other
            (numbers, or timestamps in one fixed format and zone).
        param: The query parameter the mark is sent as (``"since_id"``); the vendor must
            return only records *after* it.
        initial: The mark of the first run (``None``: no parameter, a full pull).
    """

    store: StateStore
    key: str
    field: str
    param: str
    initial: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.store, StateStore):
            raise ConfigurationError(
                "must be a StateStore (get/set), e.g. FileStateStore(path)", field="store"
            )
        for name in ("key", "field", "param"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError("must be a non-empty string", field=name)

    @classmethod
    def from_option(
        cls,
        option: Incremental | Mapping[str, Any] | None,
        *,
        store: StateStore | None = None,
        key: str | None = None,
    ) -> Incremental | None:
        """An adapter's ``incremental=`` option: ``None``, an :class:`Incremental`, or a
        mapping of its fields (``{"field": "id", "param": "since_id"}``) in which ``store``
        and ``key`` default to the adapter's own store and key.

        Raises:
            ConfigurationError: An unknown key, or a field :class:`Incremental` refuses.
        """
        if option is None or isinstance(option, Incremental):
            return option
        if not isinstance(option, Mapping):
            raise ConfigurationError(
                'must be a mapping such as {"field": "id", "param": "since_id"}, '
                "an Incremental, or None",
                field="incremental",
            )
        unknown = sorted(str(k) for k in option if k not in OPTION_KEYS)
        if unknown:
            raise ConfigurationError(
                f"unknown key(s) {', '.join(unknown)}; known: {', '.join(OPTION_KEYS)}",
                field="incremental",
            )
        values = {"store": store, "key": key} | dict(option)
        missing = [name for name in ("field", "param") if name not in values]
        if missing:
            raise ConfigurationError(
                f"needs {' and '.join(missing)} (the record field the mark is read from and "
                'the vendor\'s "after this" query parameter, e.g. "id" and "since_id")',
                field="incremental",
            )
        if values["store"] is None or values["key"] is None:
            raise ConfigurationError(
                "needs a store and a key (the adapters give defaults)", field="incremental"
            )
        return cls(**values)

    def mark(self, *, storage_options: Mapping[str, Any] | None = None) -> Any:
        """The mark the next run starts from (committed runs only).

        Args:
            storage_options: For an fsspec output left pending by a crashed run: the
                options its URL is opened with to see whether it was published.
        """
        state = self._state()
        pending = state.get("pending")
        if isinstance(pending, dict) and _committed(pending, storage_options or {}):
            return pending.get("mark")
        return state.get("mark", self.initial)

    def _state(self) -> dict[str, Any]:
        raw = self.store.get(self.key)
        if raw is None:
            return {"mark": self.initial}
        try:
            state = json.loads(raw)
        except ValueError:
            state = None
        if not isinstance(state, dict) or "mark" not in state:
            raise ConfigurationError(
                f"the stored state of {self.key!r} is not an incremental mark: fix it or "
                "remove it (the next pull then starts from the beginning)",
                field="key",
            )
        return state

    def begin(self, output: Output | str | os.PathLike[str]) -> IncrementalRun:
        """Resolve a crashed run's intent and start a run writing ``output``.

        A crashed run's fsspec output is looked up with ``output``'s ``storage_options``
        (one data set, one storage).
        """
        out = as_output(output)
        state = self._state()
        mark = state.get("mark")
        pending = state.get("pending")
        if (
            isinstance(pending, dict)
            and pending.get("output") != str(out.path)
            and _committed(pending, out.storage_options)
        ):
            mark = pending.get("mark")  # that run published its output: move on
        # the store is left as it is: this run's intent replaces it before its commit
        return IncrementalRun(self, mark, pending if isinstance(pending, dict) else None)


def _committed(pending: Mapping[str, Any], storage_options: Mapping[str, Any]) -> bool:
    """Whether the run that wrote the intent ``pending`` published its output.

    Decided from what every host sees: the final output holds the file the intent
    describes. The partial file is only consulted for a local output (it sits beside it);
    an fsspec output's partial file is in the staging directory of whichever host ran it.
    """
    output, partial = pending.get("output"), pending.get("partial")
    if not isinstance(output, str) or not output or not isinstance(partial, str):
        return False
    out = Output(path=output, storage_options=storage_options)
    if not out.is_url and Path(partial).exists():
        return False  # not moved into place
    size, digest = pending.get("bytes"), pending.get("sha256")
    if not isinstance(size, int) or not isinstance(digest, str):
        # an intent written before intents described their file: the output exists
        return out.holds()
    return out.holds(size=size, sha256=digest)


def _dump(state: Mapping[str, Any]) -> str:
    try:
        return json.dumps(state, sort_keys=True)
    except TypeError:
        raise ConfigurationError(
            f"the mark {state.get('mark')!r} is not JSON (str, int, float)", field="field"
        ) from None


class IncrementalRun:
    """One pull's view of the mark: the parameter it sends, the largest value it wrote."""

    def __init__(
        self, spec: Incremental, mark: Any, pending: Mapping[str, Any] | None = None
    ) -> None:
        self.spec = spec
        self.start_mark = mark
        self.mark = mark
        self._pending = pending
        self._path = spec.field.split(".")

    def params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """``params`` plus the mark as the vendor's parameter (none before the first run)."""
        merged = dict(params or {})
        if self.start_mark is not None:
            merged[self.spec.param] = self.start_mark
        return merged

    def _value(self, record: Any) -> Any:
        value = record
        for part in self._path:
            if not isinstance(value, dict) or part not in value:
                shape = sorted(record)[:8] if isinstance(record, dict) else type(record).__name__
                raise BadResponseError(
                    f"a record has no field {self.spec.field!r}: check Incremental.field "
                    f"(records look like {shape})"
                )
            value = value[part]
        return value

    def see(self, records: Iterable[Any]) -> None:
        """Track the largest mark over records about to be written."""
        best = self.mark
        try:
            for record in records:
                value = self._value(record)
                if value is not None and (best is None or value > best):
                    best = value
        except TypeError:
            raise BadResponseError(
                f"values of {self.spec.field!r} do not compare ({best!r}): the mark field "
                "must hold one type (numbers, or timestamps in one format)"
            ) from None
        self.mark = best

    def resumed(self, writer: OutputWriter) -> None:
        """A pull resumed from a checkpoint: read the marks of the records written before."""
        if not writer.resumed:
            return
        partial = writer.output.partial_path
        if not partial.exists():
            # the checkpoint said complete: the earlier attempt's intent has the mark
            if self._pending is not None and self._pending.get("output") == str(writer.output.path):
                pending_mark = self._pending.get("mark")
                if pending_mark is not None and (self.mark is None or pending_mark > self.mark):
                    self.mark = pending_mark
            return
        opener: Any = gzip.open if writer.output.compressed else open
        with opener(partial, "rb") as fh:
            self.see(json.loads(line) for line in fh if line.strip())

    def before_commit(self, writer: OutputWriter) -> None:
        """Write the intent: this output, its partial file, the mark it will publish, and
        the size and SHA-256 of the file the commit puts in place (how any host tells
        later whether it did)."""
        pending = {
            "output": str(writer.output.path),
            "partial": str(writer.output.partial_path),
            "mark": self.mark,
            **writer.fingerprint(),
        }
        self.spec.store.set(self.spec.key, _dump({"mark": self.start_mark, "pending": pending}))

    def after_commit(self) -> None:
        """The output is published: the mark moves on."""
        self.spec.store.set(self.spec.key, _dump({"mark": self.mark}))
