"""The ``prefect-secret:`` secret reference scheme: a value held in a Prefect ``Secret`` block.

``prefect-secret:acme-client-secret`` reads the ``Secret`` block named
``acme-client-secret``; ``prefect-secret:acme#client_secret`` reads one key of a Secret
block holding a JSON object. Prefer string Secret blocks: the Prefect API shows a Secret
block holding an object in plain text.
"""

from __future__ import annotations

from vendorgate._errors import ConfigurationError, SecretNotFoundError
from vendorgate.prefect._compat import run_sync

__all__ = ["resolve_prefect_secret"]


def resolve_prefect_secret(target: str) -> str:
    """Return the value of the Secret block named ``target`` (``NAME`` or ``NAME#key``).

    Raises:
        ConfigurationError: ``target`` is empty or the block holds no string there.
        SecretNotFoundError: there is no Secret block of that name.
    """
    from prefect.blocks.system import Secret
    from prefect.exceptions import ObjectNotFound

    name, _, key = target.strip().partition("#")
    if not name:
        raise ConfigurationError(
            "prefect-secret: needs a Secret block name, e.g. prefect-secret:acme-secret",
            field="prefect-secret",
        )
    try:
        block = run_sync(Secret.load, name)
    except (ObjectNotFound, ValueError):
        raise SecretNotFoundError(
            f"prefect-secret: no Secret block named {name!r}; create it in the UI "
            "(Blocks > Secret) or with Secret(value=...).save(NAME)"
        ) from None
    value = block.get()
    if key:
        if not isinstance(value, dict) or not isinstance(value.get(key), str):
            raise ConfigurationError(
                f"Secret block {name!r} holds no string under key {key!r}",
                field="prefect-secret",
            )
        return str(value[key])
    if not isinstance(value, str):
        raise ConfigurationError(
            f"Secret block {name!r} holds an object; name a key: prefect-secret:{name}#KEY",
            field="prefect-secret",
        )
    return value
