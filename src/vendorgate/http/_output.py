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
next to the final file. Every checkpoint records the run that wrote it
(:attr:`Output.run_id`, or a random id when none is given): a rerun *of that run* (the
same ``run_id``, e.g. an orchestrator's retry) only removes the checkpoint; any other pull
drops the leftover and fetches again, so a stale file is never passed off as fresh.

One pull at a time per output: :meth:`OutputWriter.open` takes an exclusive claim,
``<output>.lock`` beside the partial file (``flock``, released by the kernel if the
process dies), held until :meth:`OutputWriter.commit` or :meth:`OutputWriter.close`. A
second pull to the same output raises :class:`~vendorgate.OutputBusyError` at once,
before it touches the partial file or the checkpoint. For an fsspec URL a claim object
(``<url>.vendorgate-claim``, with a heartbeat and an expiry) also keeps pulls on other
hosts out. Holding the claim, ``open`` removes checkpoint temp files (and, for URLs,
upload temp objects) a crashed run left behind.

A checkpoint records what identifies its pull (absolute first URL and parameters, the
strategy and its settings, gzip, serializer); a rerun with other settings is refused
with an error naming the checkpoint file and what differs, rather than resuming (or
restarting over) a partial file that belongs to another pull.

For an fsspec URL (``s3://...``; needs the ``fsspec`` extra) the partial data and the
checkpoint stay in a local staging directory and the finished file is uploaded under a
temporary name and moved to the final URL.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import json
import math
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError, OutputBusyError
from vendorgate.http._pagination import PageRequest

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Checkpoint", "Output", "OutputWriter", "as_output"]

_CHECKPOINT_VERSION = 2


def _default_serializer(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _url_fs(output: Output) -> tuple[Any, str]:
    """The fsspec filesystem and path of ``output``'s URL, opened with its storage options."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:  # without the fsspec extra
        raise ConfigurationError(
            "an fsspec URL needs the fsspec extra: pip install 'vendorgate[fsspec]'",
            field="output",
        ) from exc
    fs, path = url_to_fs(str(output.path), **dict(output.storage_options))
    return fs, str(path)


def _open_final(output: Output) -> IO[bytes]:
    """The final file of ``output``, opened for reading (fsspec for URLs)."""
    if not output.is_url:
        return open(str(output.path).removeprefix("file://"), "rb")
    fs, remote = _url_fs(output)
    opened: IO[bytes] = fs.open(remote, "rb")
    return opened


def _sha256(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1024 * 1024), b""):
        digest.update(chunk)
    return digest.hexdigest()


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
        run_id: What identifies this run across its retries (an Airflow run and task, a
            Prefect flow run). A checkpoint left "complete" by a crash is only finished by
            a pull with the same ``run_id``; any other pull fetches again. ``None``: every
            pull is a new run.
        claim_ttl_s: For fsspec URLs, how long the claim object keeps other hosts out
            without a heartbeat (the pull renews it while it writes pages).
    """

    path: str | os.PathLike[str]
    gzip: bool | None = None
    checkpoint_path: str | os.PathLike[str] | None = None
    staging_dir: str | os.PathLike[str] | None = None
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    fsync: bool = True
    serializer: Callable[[Any], bytes] = _default_serializer
    run_id: str | None = None
    claim_ttl_s: float = 600.0

    def __post_init__(self) -> None:
        if not str(self.path):
            raise ConfigurationError("must be a local path or an fsspec URL", field="path")
        if self.run_id is not None and (not isinstance(self.run_id, str) or not self.run_id):
            raise ConfigurationError(
                "must be a non-empty string (e.g. the orchestrator's run id) or None",
                field="run_id",
            )
        ttl = self.claim_ttl_s
        if (
            isinstance(ttl, bool)
            or not isinstance(ttl, (int, float))
            or not math.isfinite(ttl)
            or ttl <= 0
        ):
            raise ConfigurationError("must be a finite number of seconds > 0", field="claim_ttl_s")

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

    def holds(self, *, size: int | None = None, sha256: str | None = None) -> bool:
        """Whether the final file exists, with ``size`` bytes and this SHA-256 hex digest
        when they are given.

        Asks what every host sees: the local path, or the fsspec URL opened with
        :attr:`storage_options` (the staging directory is not consulted).
        """
        try:
            if not self.is_url:
                path = Path(str(self.path).removeprefix("file://"))
                found = path.is_file() and (size is None or path.stat().st_size == size)
            else:
                fs, remote = _url_fs(self)
                found = bool(fs.exists(remote)) and (size is None or fs.size(remote) == size)
            if not found or sha256 is None:
                return found
            with _open_final(self) as fh:
                return _sha256(fh) == sha256
        except FileNotFoundError:  # removed while looked at
            return False

    @property
    def partial_path(self) -> Path:
        """The local file records are appended to while the pull runs."""
        base = self._local_base()
        return base.with_name(base.name + ".partial")

    @property
    def lock_file(self) -> Path:
        """The local lock file that gives one pull at a time the output."""
        base = self._local_base()
        return base.with_name(base.name + ".lock")

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
        run: The run that wrote it (:attr:`Output.run_id` or a random id); ``None`` in
            checkpoints of older versions.
    """

    source: Mapping[str, Any]
    position: PageRequest | None
    records: int
    pages: int
    bytes: int
    run: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": _CHECKPOINT_VERSION,
            "source": dict(self.source),
            "position": self.position.to_dict() if self.position else None,
            "records": self.records,
            "pages": self.pages,
            "bytes": self.bytes,
            "run": self.run,
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
            run=data["run"] if isinstance(data.get("run"), str) else None,
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # matches _tmp_glob(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _tmp_glob(path: Path) -> str:
    """The glob of the temp files :func:`_atomic_write` makes for ``path``."""
    return f".{path.name}.*.tmp"


def _holder(path: Path | None, info: Mapping[str, Any] | None) -> str:
    if not info:
        return f"lock {path}" if path is not None else "a claim"
    parts = [f"pid {info.get('pid')} on {info.get('host')}"]
    if info.get("run"):
        parts.append(f"run {info.get('run')}")
    if info.get("since"):
        parts.append(f"since {info.get('since')}")
    return ", ".join(parts)


def _busy(output: Output, lock_path: str, holder: str) -> OutputBusyError:
    return OutputBusyError(
        f"output {output.path} is being written by another pull ({holder}); two pulls to "
        "one output would corrupt it. Wait for that pull to finish (or stop it), or give "
        "this pull another output path",
        path=str(output.path),
        lock_path=lock_path,
    )


def _claim_info(run: str) -> dict[str, Any]:
    return {
        "run": run,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class _LocalLock:
    """An exclusive ``flock`` on the output's lock file, held by an open descriptor.

    The kernel drops the lock when the process dies, so a crash never leaves a stale
    lock. The file is removed on release while still locked; an acquirer checks that
    the path still names the file it locked (else it locked a removed file and retries).
    """

    def __init__(self, output: Output, run: str) -> None:
        self.output = output
        self.path = output.lock_file
        self.run = run
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): an exclusive create
            self._acquire_exclusive_create()
            return
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise _busy(self.output, str(self.path), _holder(self.path, self._read())) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(_claim_info(self.run)).encode())
                self._fd = fd
                return
            os.close(fd)  # locked a file its holder just removed: try again
        raise _busy(self.output, str(self.path), _holder(self.path, None))

    def _acquire_exclusive_create(self) -> None:  # where there is no flock
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _holder(self.path, self._read())
            raise _busy(
                self.output,
                str(self.path),
                f"{holder}; if no pull is running, a crash left it: delete {self.path}",
            ) from None
        os.write(fd, json.dumps(_claim_info(self.run)).encode())
        self._fd = fd

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


class _RemoteClaim:
    """A claim object beside an fsspec output, so that pulls on other hosts stay out.

    Object stores have no locks: the claim names its run and an expiry, is renewed while
    the pull writes pages, and is checked again just before the final move. A crashed
    run's claim expires after :attr:`Output.claim_ttl_s`.
    """

    def __init__(self, output: Output, run: str, owner: str) -> None:
        self.output = output
        self.run = run
        self.owner = owner  # this writer, even when a zombie attempt shares its run id
        self.fs, remote = _url_fs(output)
        self.path = f"{remote}.vendorgate-claim"
        self._renewed = 0.0

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.fs.cat_file(self.path))
        except (OSError, ValueError):  # FileNotFoundError included
            return None
        return data if isinstance(data, dict) else None

    def _write(self) -> None:
        now = time.time()
        info = _claim_info(self.run) | {
            "owner": self.owner,
            "expires": now + self.output.claim_ttl_s,
        }
        self.fs.pipe_file(self.path, json.dumps(info).encode())
        self._renewed = now

    def _check(self, data: dict[str, Any] | None, *, mine_required: bool) -> None:
        if data is None:
            if mine_required:
                raise _busy(self.output, self.path, "its claim disappeared")
            return
        if data.get("owner") == self.owner:
            return
        live = isinstance(data.get("expires"), (int, float)) and data["expires"] > time.time()
        if live or mine_required:
            raise _busy(self.output, self.path, _holder(None, data))

    def acquire(self) -> None:
        self._check(self._read(), mine_required=False)
        self._write()
        self._check(self._read(), mine_required=True)  # another host wrote after us

    def renew(self) -> None:
        if time.time() - self._renewed >= self.output.claim_ttl_s / 3:
            self._check(self._read(), mine_required=True)
            self._write()

    def verify(self) -> None:
        self._check(self._read(), mine_required=True)

    def release(self) -> None:
        data = self._read()
        if data is not None and data.get("owner") == self.owner:
            with contextlib.suppress(OSError):
                self.fs.rm_file(self.path)


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
        self._owner = uuid.uuid4().hex
        #: The run recorded in the checkpoints (:attr:`Output.run_id` or a random id).
        self.run = output.run_id or f"anonymous-{self._owner}"
        self._lock: _LocalLock | None = None
        self._claim: _RemoteClaim | None = None
        self._committed = False
        self.records = 0
        self.pages = 0
        self.resumed = False
        self._bytes = 0
        self._fh: IO[bytes] | None = None

    def open(self) -> PageRequest | None:
        """Claim the output, prepare the partial file; return where to start (``None``: done).

        Raises:
            OutputBusyError: Another pull holds the output; nothing was touched.
            ConfigurationError: The checkpoint belongs to another pull, or is unreadable.
        """
        out = self.output
        out.partial_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock = _LocalLock(out, self.run)
            self._lock.acquire()
            if out.is_url:
                self._claim = _RemoteClaim(out, self.run, self._owner)
                self._claim.acquire()
            self._remove_stale_temp_files()
            return self._open_claimed()
        except BaseException:
            self._release()
            raise

    def _remove_stale_temp_files(self) -> None:
        """Remove the temp files of a crashed run (safe: this writer holds the claim)."""
        checkpoint = self.output.checkpoint_file
        if checkpoint.parent.is_dir():
            for tmp in checkpoint.parent.glob(_tmp_glob(checkpoint)):
                tmp.unlink(missing_ok=True)
        if self._claim is not None:
            fs, remote = self._claim.fs, self._claim.path.removesuffix(".vendorgate-claim")
            with contextlib.suppress(OSError):
                for tmp in fs.glob(f"{remote}.tmp-*"):
                    fs.rm_file(tmp)

    def _release(self) -> None:
        if self._claim is not None:
            with contextlib.suppress(OSError):
                self._claim.release()
            self._claim = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _finish_matches(self, cp: Checkpoint) -> bool:
        """Whether ``cp`` is this run's "complete" checkpoint and its file is in place."""
        if self.output.run_id is None or cp.run != self.output.run_id:
            return False
        return self.output.holds(size=cp.bytes)

    def _open_claimed(self) -> PageRequest | None:
        out = self.output
        partial = out.partial_path
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
        if cp is not None and cp.position is None:
            if not partial.exists() and self._finish_matches(cp):
                # this run crashed after moving the file into place: only the checkpoint
                # is left to remove
                self.records, self.pages, self._bytes = cp.records, cp.pages, cp.bytes
                self.resumed = True
                self._committed = True
                return None
            if cp.run != out.run_id or out.run_id is None:
                # another run's finished pull: its data may be stale, fetch again
                out.checkpoint_file.unlink(missing_ok=True)
                cp = None
        if cp is not None and partial.exists() and partial.stat().st_size >= cp.bytes:
            fh = open(partial, "r+b")  # noqa: SIM115 - kept open across pages
            fh.truncate(cp.bytes)
            fh.seek(cp.bytes)
            self._fh = fh
            self._bytes, self.records, self.pages = cp.bytes, cp.records, cp.pages
            self.resumed = True
            return cp.position
        self._fh = open(partial, "wb")  # noqa: SIM115 - kept open across pages
        return self.first

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
        if self._claim is not None:
            self._claim.renew()
        cp = Checkpoint(self.source, next_request, self.records, self.pages, self._bytes, self.run)
        _atomic_write(
            self.output.checkpoint_file,
            json.dumps(cp.to_dict()).encode(),
            fsync=self.output.fsync,
        )

    def close(self) -> None:
        """Close the partial file, keeping it and the checkpoint for a rerun; drop the claim."""
        self._close_file()
        self._release()

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def fingerprint(self) -> dict[str, Any]:
        """``{"bytes": size, "sha256": hex digest}`` of the file :meth:`commit` publishes.

        Call it after the last page, before :meth:`commit`: afterwards
        ``output.holds(size=..., sha256=...)`` tells, on any host that sees the output,
        whether this commit put its file in place. Reads the partial file once (or the
        final file, when an earlier attempt of this run already moved it into place).
        """
        if self._committed:  # an earlier attempt of this run moved the file into place
            fh = _open_final(self.output)
        else:
            if self._fh is not None:
                self._fh.flush()
            fh = open(self.output.partial_path, "rb")  # noqa: SIM115 - closed below
        with fh:
            return {"bytes": self._bytes, "sha256": _sha256(fh)}

    def commit(self) -> str:
        """Move the finished file into place atomically, remove the checkpoint, drop the claim.

        Raises:
            OutputBusyError: The partial file or the claim changed under this pull
                (another writer ignored the claim); nothing is moved into place.
        """
        self._close_file()
        try:
            return self._commit_claimed()
        finally:
            self._release()

    def _commit_claimed(self) -> str:
        out = self.output
        partial = out.partial_path
        final = str(out.path)
        if not self._committed:
            try:
                size = partial.stat().st_size
            except FileNotFoundError:
                size = -1
            if size != self._bytes:
                raise _busy(out, str(out.lock_file), "the partial file changed under this pull")
        if self._committed:
            pass  # moved into place by an earlier run that crashed before the cleanup
        elif out.is_url:
            fs, remote = _url_fs(out)
            tmp_remote = f"{remote}.tmp-{self._owner[:16]}"
            fs.put_file(str(partial), tmp_remote)
            if self._claim is not None:
                self._claim.verify()  # no other host took the output over meanwhile
            fs.mv(tmp_remote, remote)
            partial.unlink()
        else:
            os.replace(partial, final.removeprefix("file://"))
        out.checkpoint_file.unlink(missing_ok=True)
        return final
