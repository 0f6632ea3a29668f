"""Streaming JSON Lines output with an atomic final file and a consistent checkpoint.

Layout while a pull runs (``out.jsonl`` as the output)::

    out.jsonl.partial            records written so far (appended page by page)
    out.jsonl.checkpoint.json    {"position": next page, "records": n, "bytes": size, ...}

After each page the partial file is flushed (and fsynced), *then* the checkpoint is
replaced atomically with the byte size the partial file had at that moment. The
checkpoint therefore never describes data that is not on disk; a rerun truncates the
partial file back to the checkpoint's byte size (dropping any page written after the
last checkpoint) and resumes from the checkpoint's position: no duplicate, no gap. With
gzip each page is its own gzip member (a concatenation of members is a valid gzip file),
so the truncation point is always a member boundary.

On success the partial file is renamed to the final name (``os.replace``, atomic) and the
checkpoint is removed. A crash between the two leaves a checkpoint that says "complete"
next to the final file: a rerun notices and only removes the checkpoint.

A checkpoint records what identifies its pull (absolute first URL and parameters, the
strategy and its settings, gzip, serializer); a rerun with other settings is refused
with an error naming the checkpoint file and what differs, rather than resuming (or
restarting over) a partial file that belongs to another pull.

For an fsspec URL (``s3://...``; needs the ``fsspec`` extra) the partial data and the
checkpoint stay in a local staging directory and the finished file is uploaded under a
temporary name and moved to the final URL.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError
from vendorgate.http._pagination import PageRequest

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Checkpoint", "Output", "OutputWriter", "as_output"]

_CHECKPOINT_VERSION = 2


def _default_serializer(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


@dataclass(frozen=True, kw_only=True)
class Output:
    """Where and how a pull writes its records.

    Attributes:
        path: Local path or fsspec URL of the final file.
        gzip: Compress with gzip; ``None`` infers it from a ``.gz`` suffix.
        checkpoint_path: Where the checkpoint goes (default ``<path>.checkpoint.json``,
            or inside ``staging_dir`` for an fsspec URL).
        staging_dir: Local directory for partial data of an fsspec URL (default: the
            system temporary directory).
        storage_options: Passed to ``fsspec.core.url_to_fs`` for URLs.
        fsync: fsync the data and the checkpoint after every page (crash safety).
        serializer: Turns one record into one line (without the newline); JSON by default.
    """

    path: str | os.PathLike[str]
    gzip: bool | None = None
    checkpoint_path: str | os.PathLike[str] | None = None
    staging_dir: str | os.PathLike[str] | None = None
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    fsync: bool = True
    serializer: Callable[[Any], bytes] = _default_serializer

    def __post_init__(self) -> None:
        if not str(self.path):
            raise ConfigurationError("must be a local path or an fsspec URL", field="path")

    @property
    def is_url(self) -> bool:
        """Whether ``path`` is a remote fsspec URL."""
        return _is_url(str(self.path))

    @property
    def compressed(self) -> bool:
        """Whether the output is gzip compressed."""
        return self.gzip if self.gzip is not None else str(self.path).endswith(".gz")

    def _local_base(self) -> Path:
        p = str(self.path)
        if not self.is_url:
            return Path(p.removeprefix("file://"))
        digest = hashlib.sha256(p.encode()).hexdigest()[:16]
        base = Path(self.staging_dir or tempfile.gettempdir()) / "vendorgate-staging"
        base.mkdir(parents=True, exist_ok=True)
        return base / f"{digest}-{Path(p).name or 'output'}"

    @property
    def partial_path(self) -> Path:
        """The local file records are appended to while the pull runs."""
        base = self._local_base()
        return base.with_name(base.name + ".partial")

    @property
    def checkpoint_file(self) -> Path:
        """The local checkpoint file."""
        if self.checkpoint_path is not None:
            return Path(self.checkpoint_path)
        base = self._local_base()
        return base.with_name(base.name + ".checkpoint.json")


def as_output(output: Output | str | os.PathLike[str]) -> Output:
    """Accept an :class:`Output` or a plain path/URL."""
    if isinstance(output, Output):
        return output
    if isinstance(output, (str, os.PathLike)):
        return Output(path=output)
    raise ConfigurationError("must be a path, an fsspec URL or an Output", field="output")


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file says.

    Attributes:
        source: What identifies the pull (see :func:`source_identity`); a rerun with
            another identity is refused.
        position: The next page to fetch, ``None`` when every page was written.
        records: Records written so far.
        pages: Pages written so far.
        bytes: Size of the partial file when the checkpoint was written.
    """

    source: Mapping[str, Any]
    position: PageRequest | None
    records: int
    pages: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": _CHECKPOINT_VERSION,
            "source": dict(self.source),
            "position": self.position.to_dict() if self.position else None,
            "records": self.records,
            "pages": self.pages,
            "bytes": self.bytes,
        }

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        """Read ``path``; ``None`` if it does not exist."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"checkpoint {path} is unreadable ({type(exc).__name__}); delete it to "
                "start the pull over",
                field="output",
            ) from exc
        if (
            not isinstance(data, dict)
            or data.get("version") != _CHECKPOINT_VERSION
            or not isinstance(data.get("source"), dict)
        ):
            raise ConfigurationError(
                f"checkpoint {path} has an unknown format (another vendorgate version?); "
                "delete it and its .partial file to start over",
                field="output",
            )
        pos = data.get("position")
        return cls(
            source=dict(data["source"]),
            position=PageRequest.from_dict(pos) if pos else None,
            records=int(data["records"]),
            pages=int(data["pages"]),
            bytes=int(data["bytes"]),
        )


def _plain(value: Any) -> Any:
    """A JSON-stable description of a setting (callables by qualified name)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if callable(value):
        module = getattr(value, "__module__", None) or "?"
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"{module}.{name}"
    return repr(value)


def _strategy(paginator: Any) -> dict[str, Any]:
    desc: dict[str, Any] = {"class": f"{type(paginator).__module__}.{type(paginator).__name__}"}
    if is_dataclass(paginator):
        for f in fields(paginator):
            desc[f.name] = _plain(getattr(paginator, f.name))
    return desc


def source_identity(
    first: PageRequest,
    output: Output,
    *,
    base_url: str | None = None,
    paginator: Any = None,
) -> dict[str, Any]:
    """What identifies a pull: a checkpoint is only resumed by the same pull.

    Args:
        first: The first page's request.
        output: The output (its gzip flag and serializer count).
        base_url: The first request's absolute URL (the client's base URL joined).
        paginator: The strategy; its class and settings count.
    """
    return {
        "url": base_url or first.url,
        "params": _plain(dict(first.params)),
        "strategy": _strategy(paginator) if paginator is not None else None,
        "gzip": output.compressed,
        "serializer": _plain(output.serializer),
    }


def _atomic_write(path: Path, data: bytes, *, fsync: bool) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


class OutputWriter:
    """Writes pages of records to an :class:`Output`, checkpointing after each page.

    Used by :meth:`VendorClient.pull`; usable directly for custom loops::

        writer = OutputWriter(output, first_request)
        start = writer.open()            # where to (re)start, None if already complete
        writer.write_page(records, next_request)
        writer.commit()                  # final file appears, checkpoint removed
    """

    def __init__(
        self,
        output: Output,
        first: PageRequest,
        *,
        base_url: str | None = None,
        paginator: Any = None,
    ) -> None:
        self.output = output
        self.first = first
        self.source = source_identity(first, output, base_url=base_url, paginator=paginator)
        self._committed = False
        self.records = 0
        self.pages = 0
        self.resumed = False
        self._bytes = 0
        self._fh: IO[bytes] | None = None
        self._position: PageRequest | None = first

    def open(self) -> PageRequest | None:
        """Prepare the partial file; return the request to start from (``None``: all done)."""
        out = self.output
        partial = out.partial_path
        partial.parent.mkdir(parents=True, exist_ok=True)
        cp = Checkpoint.load(out.checkpoint_file)
        if cp is not None and cp.source != self.source:
            keys = sorted(set(cp.source) | set(self.source))
            differ = [k for k in keys if cp.source.get(k) != self.source.get(k)]
            raise ConfigurationError(
                f"checkpoint {out.checkpoint_file} belongs to another pull (differs in: "
                f"{', '.join(differ)}); rerun with the original settings to resume it, or "
                "delete it (and its .partial file) to start over",
                field="output",
            )
        if cp is not None and cp.position is None and not partial.exists() and self._final_exists():
            # the last run crashed after moving the file into place: only the checkpoint
            # is left to remove
            self.records, self.pages, self._bytes = cp.records, cp.pages, cp.bytes
            self._position = None
            self.resumed = True
            self._committed = True
            return None
        if cp is not None and partial.exists() and partial.stat().st_size >= cp.bytes:
            fh = open(partial, "r+b")  # noqa: SIM115 - kept open across pages
            fh.truncate(cp.bytes)
            fh.seek(cp.bytes)
            self._fh = fh
            self._bytes, self.records, self.pages = cp.bytes, cp.records, cp.pages
            self._position = cp.position
            self.resumed = True
        else:
            self._fh = open(partial, "wb")  # noqa: SIM115 - kept open across pages
            self._position = self.first
        return self._position

    def write_page(self, records: list[Any], next_request: PageRequest | None) -> None:
        """Append one page's records, then checkpoint ``next_request`` as the position."""
        fh = self._fh
        if fh is None:
            raise RuntimeError("OutputWriter.open() must be called first")
        ser = self.output.serializer
        data = b"".join(ser(r) + b"\n" for r in records)
        if self.output.compressed and data:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        if data:
            fh.write(data)
            fh.flush()
            if self.output.fsync:
                os.fsync(fh.fileno())
        self._bytes += len(data)
        self.records += len(records)
        self.pages += 1
        self._position = next_request
        cp = Checkpoint(self.source, next_request, self.records, self.pages, self._bytes)
        _atomic_write(
            self.output.checkpoint_file,
            json.dumps(cp.to_dict()).encode(),
            fsync=self.output.fsync,
        )

    def close(self) -> None:
        """Close the partial file, keeping it and the checkpoint for a rerun."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _final_exists(self) -> bool:
        out = self.output
        final = str(out.path)
        if not out.is_url:
            return Path(final.removeprefix("file://")).exists()
        try:
            from fsspec.core import url_to_fs
        except ImportError:  # pragma: no cover - depends on the extra
            return False
        fs, remote = url_to_fs(final, **dict(out.storage_options))
        return bool(fs.exists(remote))

    def commit(self) -> str:
        """Move the finished file into place atomically and remove the checkpoint."""
        self.close()
        out = self.output
        partial = out.partial_path
        final = str(out.path)
        if self._committed:
            pass  # moved into place by an earlier run that crashed before the cleanup
        elif out.is_url:
            try:
                from fsspec.core import url_to_fs
            except ImportError as exc:  # pragma: no cover - depends on the extra
                raise ConfigurationError(
                    "an fsspec URL needs the fsspec extra: pip install 'vendorgate[fsspec]'",
                    field="output",
                ) from exc
            fs, remote = url_to_fs(final, **dict(out.storage_options))
            tmp_remote = f"{remote}.tmp-{os.getpid()}"
            fs.put_file(str(partial), tmp_remote)
            fs.mv(tmp_remote, remote)
            partial.unlink()
        else:
            os.replace(partial, final.removeprefix("file://"))
        out.checkpoint_file.unlink(missing_ok=True)
        return final
