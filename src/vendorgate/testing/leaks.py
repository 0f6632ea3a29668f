"""A secret-leak scanner: find known secrets and tokens in everything a run leaves behind.

Give it the secret values a run used (client secrets, passwords, private keys, Vault
tokens) and the tokens the vendor issued (:meth:`VendorSandbox.issued_tokens
<vendorgate.testing.VendorSandbox.issued_tokens>`), then point it at logs, files,
exception text and mappings (XCom values, Prefect results, block documents read back).
Each value is searched in every form a log line, a JSON document, a URL or a stored
result may carry it in:

* ``raw``; ``json`` (JSON-escaped, ASCII-only or not, ``/`` escaped or not, and escaped
  twice for JSON inside a JSON string); ``percent`` (RFC 3986, upper- and lower-case hex)
  and ``form`` (``+`` for spaces);
* ``base64`` and ``base64url``, padded and unpadded; ``...-in-blob`` for the value at any
  of the three byte offsets inside a larger base64 blob (a pickled or serialised result);
  ``...-wrapped`` for base64 broken into lines (Prefect stores results wrapped at 76
  columns), whether the line breaks are real or JSON-escaped ``\\n``.

A hit names the place (file and line, or mapping path), the form and the value's
*fingerprint* (``sha256:`` and 12 hex digits, and its kind and label): never the value.

Example:
    >>> scanner = LeakScanner(secrets={"client_secret": "s3cret-value-123"})
    >>> scanner.scan_text("grant_type=client_credentials&client_secret=s3cret-value-123", "log")
    [Leak(where='log:1', form='raw', kind='secret', label='client_secret', ...)]
    >>> scanner.assert_clean()
    Traceback (most recent call last):
    ...
    vendorgate.testing.leaks.LeakFound: 1 leak(s) of known secrets or tokens: ...
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import logging
import os
import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from vendorgate._secret import Secret

__all__ = ["Leak", "LeakFound", "LeakScanner", "fingerprint"]

#: Encoded forms are searched only for values at least this long; the raw value always.
MIN_ENCODED_CHARS = 6
#: A needle cut out of a larger base64 blob must keep at least this many characters.
_MIN_BLOB_NEEDLE = 8

# Line breaks of wrapped base64, real or JSON-escaped.
_WRAP_RE = re.compile(r"\r\n|\n|\r|\\r\\n|\\n|\\r")
# Characters of the base64 chunk that depend on bytes before the value, per offset.
_BLOB_SKIP = {0: 0, 1: 2, 2: 3}


def fingerprint(value: str | Secret) -> str:
    """Return a stable, non-reversible name of a value: ``sha256:`` and 12 hex digits."""
    raw = value.reveal() if isinstance(value, Secret) else value
    return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Leak:
    """One place where a known secret or token was found.

    Attributes:
        where: File and line (``path:12``), mapping path (``xcom.items[3]``), or label.
        form: The encoding it was found in (``raw``, ``json``, ``percent``, ``form``,
            ``base64``, ``base64-unpadded``, ``base64url``, ``base64url-unpadded``,
            ``base64-in-blob``, ``base64url-in-blob``, each base64 form ``-wrapped``).
        kind: ``"secret"`` or ``"token"``.
        label: The name the value was given, or ``secret#N`` / ``token#N``.
        fingerprint: :func:`fingerprint` of the value.
        count: How many times it occurs there in that form.
    """

    where: str
    form: str
    kind: str
    label: str
    fingerprint: str
    count: int = 1

    def __str__(self) -> str:
        times = f" ({self.count} times)" if self.count > 1 else ""
        return (
            f"{self.where}: {self.kind} {self.label} [{self.fingerprint}] found as "
            f"{self.form}{times}"
        )


class LeakFound(AssertionError):
    """Raised by :meth:`LeakScanner.assert_clean`; the message lists every leak (no values)."""

    def __init__(self, leaks: list[Leak]) -> None:
        self.leaks = list(leaks)
        lines = "\n  ".join(str(leak) for leak in self.leaks[:50])
        more = f"\n  ... and {len(self.leaks) - 50} more" if len(self.leaks) > 50 else ""
        super().__init__(f"{len(self.leaks)} leak(s) of known secrets or tokens:\n  {lines}{more}")


@dataclass(frozen=True)
class _Needle:
    text: str
    form: str
    kind: str
    label: str
    fingerprint: str
    base64: bool


def _b64_forms(raw: bytes, name: str, encode: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    whole = encode(raw).decode("ascii")
    out.append((whole, name))
    out.append((whole.rstrip("="), f"{name}-unpadded"))
    for offset, skip in _BLOB_SKIP.items():
        chunk = encode(b"\0" * offset + raw).decode("ascii").rstrip("=")
        end = len(chunk) - (1 if (offset + len(raw)) % 3 else 0)
        needle = chunk[skip:end]
        if len(needle) >= _MIN_BLOB_NEEDLE:
            out.append((needle, f"{name}-in-blob"))
    return out


def _needles(value: str, kind: str, label: str) -> list[_Needle]:
    fp = fingerprint(value)
    forms: list[tuple[str, str, bool]] = [(value, "raw", False)]
    if len(value) >= MIN_ENCODED_CHARS:
        for ascii_only in (True, False):
            escaped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
            forms.append((escaped, "json", False))
            forms.append((escaped.replace("/", "\\/"), "json", False))
            forms.append((json.dumps(escaped, ensure_ascii=ascii_only)[1:-1], "json", False))
        for encoded, name in (
            (quote(value, safe=""), "percent"),
            (quote(value), "percent"),
            (quote_plus(value, safe=""), "form"),
        ):
            forms.append((encoded, name, False))
            lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
            forms.append((lower, name, False))
        raw = value.encode("utf-8")
        for name, encode in (
            ("base64", base64.b64encode),
            ("base64url", base64.urlsafe_b64encode),
        ):
            forms.extend((text, form, True) for text, form in _b64_forms(raw, name, encode))
    seen: dict[str, _Needle] = {}
    for text, form, is_b64 in forms:
        if text and text not in seen:  # the first (plainest) form wins for equal text
            seen[text] = _Needle(text, form, kind, label, fp, is_b64)
    return list(seen.values())


def _values(items: Any, kind: str) -> list[tuple[str, str]]:
    """Normalise ``secrets=``/``tokens=`` input to ``(label, value)`` pairs."""
    if items is None:
        return []
    if isinstance(items, (str, Secret)):
        items = [items]
    pairs: Iterable[tuple[str | None, Any]]
    if isinstance(items, Mapping):
        pairs = ((str(k), v) for k, v in items.items())
    else:
        pairs = ((None, v) for v in items)
    out: list[tuple[str, str]] = []
    for i, (label, value) in enumerate(pairs, start=1):
        raw = value.reveal() if isinstance(value, Secret) else value
        if hasattr(raw, "get_secret_value"):  # pydantic SecretStr
            raw = raw.get_secret_value()
        if not isinstance(raw, str):
            raise TypeError(f"{kind} values must be str, Secret or SecretStr (item {i})")
        if raw:
            out.append((label or f"{kind}#{i}", raw))
    return out


class LeakScanner:
    """Searches text, files, directory trees and mappings for known secrets and tokens.

    Every ``scan_*`` method returns the leaks it found and also records them;
    :meth:`assert_clean` fails (pytest-friendly, an :class:`AssertionError`) when any
    scan so far found one.

    Args:
        secrets: Secret values: strings, :class:`~vendorgate.Secret` or pydantic
            ``SecretStr``; a mapping gives each a label (``{"client_secret": ...}``).
        tokens: Access, refresh and id tokens the vendor issued, same shapes.

    Example:
        >>> scanner = LeakScanner(secrets=["demo-secret-lonewolf"], tokens=[])
        >>> scanner.scan_text("nothing to see", "stdout")
        []
        >>> scanner.assert_clean()
    """

    def __init__(self, secrets: Any = (), tokens: Any = ()) -> None:
        self._needles: list[_Needle] = []
        self.leaks: list[Leak] = []
        self.add(secrets=secrets, tokens=tokens)

    def __repr__(self) -> str:
        values = len({n.fingerprint for n in self._needles})
        return f"LeakScanner(values={values}, leaks={len(self.leaks)})"

    def add(self, *, secrets: Any = (), tokens: Any = ()) -> None:
        """Add more values to search for (e.g. the tokens a later step issued)."""
        known = {n.fingerprint for n in self._needles}
        for kind, items in (("secret", secrets), ("token", tokens)):
            for label, value in _values(items, kind):
                if fingerprint(value) in known:
                    continue
                known.add(fingerprint(value))
                self._needles.extend(_needles(value, kind, label))
        # Longest first: a longer form is reported rather than a shorter one inside it.
        self._needles.sort(key=lambda n: len(n.text), reverse=True)

    # ------------------------------------------------------------------ scanning
    def scan_text(self, text: str | bytes, where: str) -> list[Leak]:
        """Search one text (or bytes, decoded as UTF-8) and record what was found.

        Args:
            text: The text: a log, a file's content, an exception's traceback.
            where: Names the place in each hit (a file name, ``"caplog"``, ...); a
                line number is added.
        """
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="surrogateescape")
        found: dict[tuple[str, str, str], list[int]] = {}
        covered: list[tuple[int, int]] = []
        for needle in self._needles:
            start = text.find(needle.text)
            while start >= 0:
                end = start + len(needle.text)
                if not any(a <= start and end <= b for a, b in covered):
                    covered.append((start, end))
                    found.setdefault((needle.fingerprint, needle.form, needle.label), []).append(
                        start
                    )
                start = text.find(needle.text, start + 1)
        self._scan_wrapped(text, found, covered)
        by_fp = {n.fingerprint: n for n in self._needles}
        leaks = []
        for (fp, form, label), positions in found.items():
            line = text.count("\n", 0, min(positions)) + 1
            leaks.append(
                Leak(
                    where=f"{where}:{line}",
                    form=form,
                    kind=by_fp[fp].kind,
                    label=label,
                    fingerprint=fp,
                    count=len(positions),
                )
            )
        leaks.sort(key=lambda leak: (leak.where, leak.form))
        self.leaks.extend(leaks)
        return leaks

    def _scan_wrapped(
        self,
        text: str,
        found: dict[tuple[str, str, str], list[int]],
        covered: list[tuple[int, int]],
    ) -> None:
        """Find base64 forms broken by line breaks, mapping hits back to the text."""
        breaks = list(_WRAP_RE.finditer(text))
        if not breaks:
            return
        # Segments of text between line breaks: (start in joined, start in text).
        seg_joined: list[int] = []
        seg_text: list[int] = []
        parts: list[str] = []
        last = size = 0
        for m in [*breaks, None]:
            stop = len(text) if m is None else m.start()
            seg_joined.append(size)
            seg_text.append(last)
            parts.append(text[last:stop])
            size += stop - last
            if m is not None:
                last = m.end()
        joined = "".join(parts)

        def original(pos: int) -> int:
            i = bisect.bisect_right(seg_joined, pos) - 1
            return seg_text[i] + pos - seg_joined[i]

        for needle in self._needles:
            if not needle.base64:
                continue
            start = joined.find(needle.text)
            while start >= 0:
                a = original(start)
                b = original(start + len(needle.text) - 1) + 1
                if not any(x <= a and b <= y for x, y in covered):
                    covered.append((a, b))
                    key = (needle.fingerprint, f"{needle.form}-wrapped", needle.label)
                    found.setdefault(key, []).append(a)
                start = joined.find(needle.text, start + 1)

    def scan_file(self, path: str | os.PathLike[str]) -> list[Leak]:
        """Search one file's bytes; hits name the path and line."""
        p = Path(path)
        return self.scan_text(p.read_bytes(), str(p))

    def scan_tree(self, root: str | os.PathLike[str]) -> list[Leak]:
        """Search every regular file under a directory (symbolic links are not followed)."""
        leaks: list[Leak] = []
        for dirpath, _dirs, files in os.walk(root):
            for name in sorted(files):
                p = Path(dirpath) / name
                if p.is_file() and not p.is_symlink():
                    leaks.extend(self.scan_file(p))
        return leaks

    def scan_mapping(self, obj: Any, where: str) -> list[Leak]:
        """Search every key and value of a nested mapping/sequence (XCom, results, blocks).

        Strings and bytes are searched as they are; other objects by their ``repr``. Hits
        name the path (``where.key[2].field``).
        """
        leaks: list[Leak] = []

        def walk(value: Any, path: str, depth: int) -> None:
            if depth > 100:
                return
            if isinstance(value, (str, bytes)):
                leaks.extend(self.scan_text(value, path))
            elif isinstance(value, Mapping):
                for key, item in value.items():
                    leaks.extend(self.scan_text(str(key), f"{path}.<key>"))
                    walk(item, f"{path}.{key}", depth + 1)
            elif isinstance(value, (list, tuple, set, frozenset)):
                for i, item in enumerate(value):
                    walk(item, f"{path}[{i}]", depth + 1)
            elif value is not None and not isinstance(value, (bool, int, float)):
                leaks.extend(self.scan_text(repr(value), f"{path}<repr>"))

        walk(obj, where, 0)
        return leaks

    def scan_exception(self, exc: BaseException, where: str = "exception") -> list[Leak]:
        """Search an exception's full traceback text, causes and contexts included."""
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return self.scan_text(text, where)

    def scan_records(self, records: Iterable[logging.LogRecord], where: str = "log") -> list[Leak]:
        """Search log records (e.g. pytest's ``caplog.records``) as a handler would format them.

        Each record's message with its arguments, its traceback and its ``extra`` fields
        are searched.
        """
        formatter = logging.Formatter()
        parts = []
        for record in records:
            parts.append(record.getMessage())
            if record.exc_info:
                parts.append(formatter.formatException(record.exc_info))
            if record.exc_text:
                parts.append(record.exc_text)
            parts.extend(
                repr(v) for k, v in vars(record).items() if k not in _STANDARD_RECORD_FIELDS
            )
        return self.scan_text("\n".join(parts), where)

    # ------------------------------------------------------------------ verdict
    def assert_clean(self) -> None:
        """Fail when any scan so far found a leak.

        Raises:
            LeakFound: An :class:`AssertionError` listing every leak by place, form and
                fingerprint, never by value.
        """
        if self.leaks:
            raise LeakFound(self.leaks)


_STANDARD_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 1, "x", None, None))
) | {"message", "asctime", "taskName"}
