"""``VendorGateHook``: an Airflow hook for a ``vendorgate`` connection.

Importing this module at DAG-parse time loads Airflow's ``BaseHook`` only; the token
engine, Vault and the HTTP stack are imported when a method needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from collections.abc import Callable

    from vendorgate.airflow._spec import ConnectionSpec
    from vendorgate.http import AsyncVendorClient, VendorClient
    from vendorgate.tokens import Token

__all__ = ["VendorGateHook"]


class VendorGateHook(BaseHook):
    """A vendor API behind OAuth 2.0 machine-to-machine tokens.

    The connection (type ``vendorgate``) names the vendor preset, the client id, where the
    client secret or key comes from (the password, or a Vault reference) and which token
    cache the workers share (by default Airflow Variables with a file lock).

    :param vendorgate_conn_id: The connection id (default ``vendorgate_default``).

    Example::

        hook = VendorGateHook(vendorgate_conn_id="techwolf")
        with hook.get_conn() as client:
            client.get_json("/items", params={"page": 1})
    """

    conn_name_attr = "vendorgate_conn_id"
    default_conn_name = "vendorgate_default"
    conn_type = "vendorgate"
    hook_name = "vendorgate (OAuth 2.0 vendor API)"

    def __init__(self, vendorgate_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vendorgate_conn_id = vendorgate_conn_id
        self._spec: ConnectionSpec | None = None

    def __repr__(self) -> str:
        return f"VendorGateHook(vendorgate_conn_id={self.vendorgate_conn_id!r})"

    # ------------------------------------------------------------------ the spec
    def get_spec(self) -> ConnectionSpec:
        """The connection translated into vendorgate's connection spec (read once)."""
        if self._spec is None:
            from vendorgate.airflow._connection import vendor_connection

            conn = self.get_connection(self.vendorgate_conn_id)
            self._spec = vendor_connection(conn, conn_id=self.vendorgate_conn_id)
        return self._spec

    async def aget_spec(self) -> ConnectionSpec:
        """Async :meth:`get_spec` (reads the connection without blocking the event loop)."""
        if self._spec is None:
            from vendorgate.airflow._connection import vendor_connection

            conn = await self.aget_connection(self.vendorgate_conn_id)
            self._spec = vendor_connection(conn, conn_id=self.vendorgate_conn_id)
        return self._spec

    # ------------------------------------------------------------------ clients
    def get_conn(self, **overrides: Any) -> VendorClient:
        """A :class:`~vendorgate.http.VendorClient` (retries, rate limits, pagination).

        :param overrides: Client options replacing the connection's (``retry``,
            ``rate_limit``, ``headers``, ``timeout`` ...).
        """
        return self.get_spec().client(**overrides)

    async def aget_conn(self, **overrides: Any) -> AsyncVendorClient:
        """An :class:`~vendorgate.http.AsyncVendorClient` (for triggers and async tasks)."""
        return (await self.aget_spec()).async_client(**overrides)

    def get_async_conn(self, **overrides: Any) -> AsyncVendorClient:
        """An async client built from an already read connection (sync contexts)."""
        return self.get_spec().async_client(**overrides)

    # ------------------------------------------------------------------ tokens
    def get_token(self) -> Token:
        """A valid access token from the shared cache (fetched once for everyone when due)."""
        from vendorgate.airflow._masking import mask_token

        return mask_token(self.get_spec().provider().get_token())

    async def aget_token(self) -> Token:
        """Async :meth:`get_token`."""
        from vendorgate.airflow._masking import amask_token

        spec = await self.aget_spec()
        return await amask_token(await spec.provider().aget_token())

    def get_requests_auth(self) -> Any:
        """A ``requests`` auth sending this connection's token from the shared cache.

        For code built on requests (Airflow's ``HttpHook``, a plain ``requests.Session``):
        a 401 (or the vendor's stale-token status) invalidates the token and retries once.
        """
        from vendorgate.airflow._tokens import MaskingSource
        from vendorgate.http import VendorRequestsAuth

        return VendorRequestsAuth(MaskingSource(self.get_spec().provider()))

    @classmethod
    def requests_auth_type(cls, vendorgate_conn_id: str = default_conn_name) -> Callable[..., Any]:
        """An ``auth_type`` for ``HttpOperator``/``HttpHook`` that reads the connection lazily.

        Safe at DAG-parse time: the connection is read when the task builds its session.

        :param vendorgate_conn_id: The ``vendorgate`` connection whose token is sent.
        """

        def auth_type(*_args: Any, **_kwargs: Any) -> Any:
            return cls(vendorgate_conn_id=vendorgate_conn_id).get_requests_auth()

        return auth_type

    def test_connection(self) -> tuple[bool, str]:
        """Ask the vendor for a token (no data call, no cache); return ``(ok, message)``.

        The message says what failed and which field to fix; it never contains a secret.
        """
        try:
            spec = self.get_spec()
            from vendorgate.airflow._masking import mask_token
            from vendorgate.airflow._tokens import MaskingResolver
            from vendorgate.tokens import TokenFetcher

            fetcher = TokenFetcher(spec.token, resolver=MaskingResolver(spec.token.vault))
            token = mask_token(fetcher.fetch(None))
        except Exception as exc:
            from vendorgate._secret import redact_text

            return False, redact_text(f"{type(exc).__name__}: {exc}")
        lifetime = round(token.lifetime_s)
        return True, (
            f"token request ok: {spec.token.vendor} issued a token for client "
            f"{spec.token.client_id!r}, valid for {lifetime} s"
        )
