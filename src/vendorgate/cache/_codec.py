"""How shared backends serialise entries and name keys (one format for every backend)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from vendorgate._token import Token

__all__ = ["decode_entry", "encode_entry", "entry_dict", "storage_name"]

log = logging.getLogger("vendorgate.cache")

#: Format version of stored entries.
FORMAT = 1


def storage_name(key: str) -> str:
    """A fixed-length name for ``key``, safe in file names, Redis keys and Vault paths."""
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def encode_entry(token: Token) -> str:
    """The JSON text stored for ``token`` (contains secrets: store it accordingly)."""
    return json.dumps({"v": FORMAT, "fp": token.fingerprint, "token": token.to_dict()})


def entry_dict(token: Token) -> dict[str, Any]:
    """The mapping form of :func:`encode_entry` (for stores that keep mappings)."""
    return {"v": FORMAT, "fp": token.fingerprint, "token": token.to_dict()}


def decode_entry(raw: str | bytes | dict[str, Any] | None, *, backend: str) -> Token | None:
    """Turn a stored entry back into a token; a corrupt entry is a miss, logged without content."""
    if raw is None:
        return None
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        if not isinstance(data, dict) or data.get("v") != FORMAT:
            raise ValueError("unknown entry format")
        token = Token.from_dict(data["token"])
        if data.get("fp") != token.fingerprint:
            raise ValueError("fingerprint does not match")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning(
            "token cache: ignoring a corrupt %s entry (%s); it counts as a miss",
            backend,
            type(exc).__name__,
        )
        return None
    return token
