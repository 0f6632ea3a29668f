"""The token cache in Airflow Variables: one Variable per token, masked, Fernet-encrypted.

:class:`AirflowVariableStore` is a token *store* (registered with the core as
``"airflow-variable"``). It shares tokens between every task, trigger and worker that
reaches the same Airflow metadata database, through ``airflow.sdk.Variable`` (the
Execution API from a task or trigger; about 10-14 ms a call).

Airflow Variables have no compare-and-set and no lock, so the store is paired with a
*lock* from the core: a file lock for workers on one host, Redis or a Vault lease across
hosts. Without a lock, workers that miss the cache at the same moment each ask the vendor
for a token (duplicate refreshes; the last write wins), but a stored token is never lost
or corrupted: every write is a complete, valid entry, and a reader that finds an entry it
cannot decode treats it as a miss.

What is stored: the Variable key is ``vendorgate_token_<hash>``, the hash taken from the
non-secret identity of the token request (preset, token URL, client id, audience, scopes,
...); the word ``token`` in it makes Airflow mask the value in the UI, the REST API and the
logs. The value is the cache entry (access token, expiry, refresh token if any); never a
client secret. Airflow encrypts Variable values at rest with its Fernet key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from vendorgate._errors import CacheError
from vendorgate.airflow._masking import mask_token
from vendorgate.airflow._variables import VariableUnreadable, read_variable
from vendorgate.cache._base import TokenStore
from vendorgate.cache._codec import decode_entry, encode_entry, storage_name

if TYPE_CHECKING:
    from vendorgate.tokens import Token

__all__ = ["VARIABLE_PREFIX", "AirflowVariableStore"]

#: Prefix of the cache Variables' keys ("token" makes Airflow mask their values).
VARIABLE_PREFIX = "vendorgate_token_"
_DESCRIPTION = (
    "vendorgate token cache entry: an access token shared by tasks (masked; safe to delete, "
    "the next task asks the vendor again)"
)


class AirflowVariableStore(TokenStore):
    """Tokens in Airflow Variables, one per cache key (registered as ``"airflow-variable"``).

    :param prefix: Prefix of the Variable keys; it must contain a word Airflow masks
        (``token``, ``secret``, ...), which the default does.
    """

    name = "airflow-variable"
    #: A Variable write is an unconditional upsert: ``delete_if`` compares, then deletes.
    atomic_delete: ClassVar[bool] = False

    def __init__(self, *, prefix: str = VARIABLE_PREFIX) -> None:
        if "token" not in prefix.lower():
            from vendorgate._errors import ConfigurationError

            raise ConfigurationError(
                "must contain 'token' so that Airflow masks the cached tokens", field="prefix"
            )
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"AirflowVariableStore(prefix={self.prefix!r})"

    def variable_key(self, key: str) -> str:
        """The Variable key holding the token of cache key ``key``."""
        return f"{self.prefix}{storage_name(key)}"

    def get(self, key: str) -> Token | None:
        """Return the stored token, or ``None`` (absent, expired or unreadable).

        Raises :class:`~vendorgate.CacheError` when the Variable cannot be read (the
        Execution API or the metadata database failed): that is not a miss, and a miss
        would make this worker ask the vendor for a token another worker already holds.
        """
        try:
            raw = read_variable(self.variable_key(key))
        except VariableUnreadable as exc:
            raise CacheError(
                f"cannot read the Airflow Variable token cache ({exc}); check the Airflow "
                "api-server and metadata database"
            ) from None
        token = decode_entry(raw, backend=self.name)
        if token is None:
            return None
        mask_token(token)
        return token if token.remaining_s() > 0 else None

    def set(self, key: str, token: Token) -> None:
        """Store ``token`` (masked first, so no log line can show it)."""
        from airflow.sdk import Variable

        mask_token(token)
        try:
            Variable.set(self.variable_key(key), encode_entry(token), description=_DESCRIPTION)
        except Exception as exc:
            raise CacheError(
                f"cannot write the Airflow Variable token cache ({type(exc).__name__})"
            ) from None

    def delete_if(self, key: str, fingerprint: str) -> bool:
        """Delete the entry if it still holds the token with ``fingerprint``.

        Not atomic (Variables have no compare-and-set): a token stored by another worker
        between the compare and the delete is dropped, and the next reader fetches again
        (one extra token request, never a wrong token).
        """
        from airflow.sdk import Variable

        current = self.get(key)
        if current is None or current.fingerprint != fingerprint:
            return False
        try:
            Variable.delete(self.variable_key(key))
        except Exception as exc:
            raise CacheError(
                f"cannot remove an entry of the Airflow Variable token cache ({type(exc).__name__})"
            ) from None
        return True

    def close(self) -> None:
        """Nothing to release."""
