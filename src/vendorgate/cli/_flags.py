"""The one table from connection-spec fields to the CLI flags that set them.

Errors raised by the core name a field (``token_url``, ``token.client_id``); the CLI
reports the flag instead (``--token-url``, ``--client-id``), so that the message says
what to type. Fields read from a ``--config`` profile keep their file name
(``techwolf.token.client_id``): that is where the fix goes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from vendorgate._errors import ConfigurationError

__all__ = ["FLAGS", "flag_for", "flag_message", "set_by_flag"]

# (connection-spec field, flag, argparse dest holding the flag's value)
FLAGS: tuple[tuple[str, str, str], ...] = (
    ("token.preset", "--preset", "preset"),
    ("token.dialect", "--preset", "preset"),
    ("token.token_url", "--token-url", "token_url"),
    ("token.client_id", "--client-id", "client_id"),
    ("token.client_secret", "--client-secret", "client_secret"),
    ("token.private_key", "--private-key", "private_key"),
    ("token.transit_key", "--transit-key", "transit_key"),
    ("token.signing_alg", "--signing-alg", "signing_alg"),
    ("token.signing_kid", "--kid", "signing_kid"),
    ("token.username", "--username", "username"),
    ("token.password", "--password", "password"),
    ("token.audience", "--audience", "audience"),
    ("token.tenant", "--tenant", "tenant"),
    ("token.scopes", "--scope", "scope"),
    ("token.extra_params", "--param", "param"),
    ("token.timeout_s", "--timeout", "timeout"),
    ("token.vault.url", "--vault-addr", "vault_addr"),
    ("token.vault.token_ref", "--vault-token", "vault_token"),
    ("token.vault.role_id", "--vault-role-id", "vault_role_id"),
    ("token.vault.secret_id_ref", "--vault-secret-id", "vault_secret_id"),
    ("base_url", "--api-url", "api_url"),
)
_BY_FIELD = {field: flag for field, flag, _ in FLAGS}
# Field names written inside messages ("give token_url"), longest first.
_NAMES = sorted(
    {f.rsplit(".", 1)[-1]: flag for f, flag, _ in FLAGS if "_" in f.rsplit(".", 1)[-1]}.items(),
    key=lambda kv: -len(kv[0]),
)
_NAME_RE = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n, _ in _NAMES) + r")(?![\w-])")


def flag_for(field: str | None) -> str | None:
    """The flag that sets a spec field (``token.client_id`` or ``client_id``), if any."""
    if not field:
        return None
    if field in _BY_FIELD:
        return _BY_FIELD[field]
    return _BY_FIELD.get(f"token.{field}")


def set_by_flag(args: argparse.Namespace, field: str | None) -> bool:
    """Whether the value of ``field`` came from a flag given on this command line."""
    for name, _, dest in FLAGS:
        if name in (field, f"token.{field}"):
            return getattr(args, dest, None) not in (None, [], "")
    return False


def flag_message(exc: ConfigurationError) -> str:
    """The error's text with its field (and field names inside it) written as flags."""
    text = str(exc)
    field = exc.field
    if not field:
        return text
    message = text[len(field) + 2 :] if text.startswith(f"{field}: ") else text
    flag = flag_for(field)
    if flag is None:
        if not field.startswith("--"):
            return text
        flag = field
    else:
        names = dict(_NAMES)
        message = _NAME_RE.sub(lambda m: names[m.group(1)], message)
    if message.startswith(("is ", "must ", "needs ")):
        return f"{flag} {message}"
    return f"{flag}: {message}"
