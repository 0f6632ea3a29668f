"""``TokenFetcher``: one token request on the wire, sync or async, no caching.

Secrets are resolved lazily, once per fetch, through a
:class:`~vendorgate.secrets.SecretResolver`; client assertions are signed per attempt
(a PEM key in memory, or Vault Transit), so a retry never resends a used ``jti``. The
async path runs secret resolution and signing in a worker thread (hvac is synchronous).
Connection errors, 429 and 5xx are retried by vendorgate's one retry engine
(``vendorgate._retry``) under :data:`TOKEN_RETRY_POLICY`: 3 attempts, full-jitter
backoff, ``Retry-After`` honoured up to 30 s, one WARNING per retry on the
``vendorgate.tokens`` logger (vendor, token URL without query, status or error class,
attempt, wait); :func:`vendorgate.http.retry_testing` skips the waits. A fetch made during
an API call (the client's token refresh) stays within that call's time budget. A
truncated or empty reply is retried too (as the API client retries a bad body).

Bounds: each attempt has a total deadline of ``TokenConfig.timeout_s`` (connecting,
sending and reading the whole reply; within the retry budget), so a reply that trickles
in ends in a :class:`~vendorgate.TokenTransportError` about ``timeout_s`` after the
attempt started (not retried: the server is alive but too slow); a reply larger than
:data:`~vendorgate.tokens.MAX_TOKEN_REPLY_BYTES` is a
:class:`~vendorgate.TokenResponseError` (the rest is not read). A TLS failure
(certificate, hostname) is a :class:`~vendorgate.TokenTransportError` naming it, not
retried. A redirect is a :class:`~vendorgate.TokenRequestError` naming its safe target
(redirects are not followed). The longest a fetch can take is the retry budget
(``TOKEN_RETRY_POLICY.timeout_s``, 60 s) plus at most one read gap and JWKS validation:
:class:`~vendorgate.cache.CacheTiming` ``lock_wait_s`` (100 s) is above that. When the
retries run out, a :class:`~vendorgate.TokenRequestError` is raised (a
:class:`~vendorgate.TokenTransportError` when the endpoint could not be reached). Other
4xx, and a token URL httpx cannot use (a :class:`~vendorgate.ConfigurationError` on
``token_url``), are not retried. With a previous token carrying a refresh token, the
dialect's refresh grant is tried first, and the primary grant when the refresh is refused.

A secret rotated in Vault and at the vendor before the resolver's ``ttl_s`` ran out: when
the primary grant is refused for wrong client credentials (HTTP 401, or 400
``invalid_client``; a refused ``private_key_jwt`` assertion too), the fetcher asks the
resolver to drop its cached client secret or private key (:meth:`SecretResolver.reread`:
at most once per ``reread_interval_s`` per reference), resolves them again and, when a
value changed, sends the request once more. If that fails too, or nothing changed, the
refusal is raised as before. This decision is made in :meth:`TokenFetcher._refused`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import (
    ConfigurationError,
    SecretError,
    TokenRequestError,
    TokenResponseError,
    TokenTransportError,
)
from vendorgate._retry import (
    BodyDeadline,
    BodyTooLarge,
    Retrier,
    Retry,
    RetryPolicy,
    aread_body,
    attempt_timeout,
    parse_retry_after,
    read_body,
    tls_advice,
    tls_problem,
)
from vendorgate._token import MAX_TOKEN_REPLY_BYTES
from vendorgate._url import request_id, safe_url, safe_url_or
from vendorgate.tokens._request import (
    Credentials,
    TokenRequest,
    TruncatedTokenReply,
    build_refresh_request,
    build_token_request,
    client_credentials_refused,
    parse_token_reply,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from vendorgate._secret import Secret
    from vendorgate._token import Token
    from vendorgate.secrets import SecretResolver
    from vendorgate.signing import AssertionSigner
    from vendorgate.tokens._config import TokenConfig
    from vendorgate.tokens._jwks import JwksValidator

__all__ = ["JWKS_TIMEOUT_CAP_S", "TOKEN_RETRY_POLICY", "TokenFetcher"]

logger = logging.getLogger("vendorgate.tokens")

#: How token requests are retried: 3 attempts within 60 s; 429 and every 5xx; a
#: ``Retry-After`` is honoured up to ``wait_max_s`` (30 s, the API client's default cap).
TOKEN_RETRY_POLICY: Final = RetryPolicy(
    attempts=3,
    timeout_s=60.0,
    wait_initial_s=0.5,
    wait_max_s=30.0,
    retry_statuses=frozenset({429, *range(500, 600)}),
    retry_methods=frozenset({"POST"}),
)

#: The JWKS request made to validate a fetched token times out after at most this long.
JWKS_TIMEOUT_CAP_S: Final = 10.0


class TokenFetcher:
    """Fetch access tokens for one :class:`~vendorgate.tokens.TokenConfig`.

    Args:
        config: What to ask for, and from whom.
        resolver: Resolves secret references (default: a resolver for ``config.vault``,
            or the process-wide :func:`~vendorgate.secrets.default_resolver`).
        http_client: An ``httpx.Client`` to send sync requests with (default: a
            short-lived client per fetch; tokens are fetched rarely).
        async_http_client: An ``httpx.AsyncClient`` for :meth:`afetch`.
        validator: JWKS validator override (default: built from the config when the
            dialect publishes a JWKS).
        attempts: Attempts per token request on connection errors, 429 and 5xx.
        retry: The whole retry policy of token requests (default
            :data:`TOKEN_RETRY_POLICY` with ``attempts``).

    Example:
        >>> from vendorgate.dialects import get_dialect
        >>> from vendorgate.tokens import TokenConfig, TokenFetcher
        >>> cfg = TokenConfig(dialect=get_dialect("oauth2-basic"), client_id="me",
        ...                   token_url="https://id.example.com/oauth/v2/token",
        ...                   client_secret="env:ACME_SECRET")
        >>> TokenFetcher(cfg).config.vendor
        'oauth2-basic'
    """

    def __init__(
        self,
        config: TokenConfig,
        *,
        resolver: SecretResolver | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        validator: JwksValidator | None = None,
        attempts: int = 3,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self._resolver = resolver
        self._http = http_client
        self._ahttp = async_http_client
        policy = retry or replace(TOKEN_RETRY_POLICY, attempts=max(1, attempts))
        self._retrier = Retrier(policy, vendor=config.vendor, logger=logger)
        self._where = safe_url_or(config.effective_token_url, "the token URL")
        self._signer: AssertionSigner | None = None
        self._validator = validator
        jwks_url = config.effective_jwks_url
        if validator is None and jwks_url is not None:
            from vendorgate.tokens._jwks import JwksValidator

            self._validator = JwksValidator(
                jwks_url,
                audience=config.effective_expected_audience,
                algorithms=config.dialect.jwks_algorithms,
                timeout_s=min(config.timeout_s, JWKS_TIMEOUT_CAP_S),
                vendor=config.vendor,
                verify=config.verify,
            )

    def __repr__(self) -> str:
        return f"TokenFetcher(vendor={self.config.vendor!r}, client_id={self.config.client_id!r})"

    @property
    def validator(self) -> JwksValidator | None:
        """The JWKS validator applied to every fetched token, if any."""
        return self._validator

    @property
    def resolver(self) -> SecretResolver:
        """The secret resolver in use (built on first use)."""
        if self._resolver is None:
            from vendorgate.secrets import SecretResolver, default_resolver

            self._resolver = (
                SecretResolver(self.config.vault)
                if self.config.vault is not None
                else default_resolver()
            )
        return self._resolver

    # -- credentials -------------------------------------------------------------

    def _resolve(self, name: str) -> Secret | None:
        ref = getattr(self.config, name)
        return None if ref is None else self.resolver.resolve(ref, field=name)

    def signer(self) -> AssertionSigner:
        """The client-assertion signer (PEM key in memory, or Vault Transit)."""
        cfg = self.config
        if cfg.transit_key is not None:
            if self._signer is None:
                from vendorgate.signing import TransitSigner

                self._signer = TransitSigner(
                    self.resolver.vault, cfg.transit_key, alg=cfg.signing_alg, kid=cfg.signing_kid
                )
            return self._signer
        # A PEM key: resolved through the resolver's bounded cache, parsed per use so a
        # rotated key is picked up when the resolver's entry expires (or is re-read).
        pem = self._resolve("private_key")
        assert pem is not None
        return self._pem_signer(pem)

    def _pem_signer(self, pem: Secret) -> AssertionSigner:
        from vendorgate.signing import PemSigner

        return PemSigner(pem, alg=self.config.signing_alg, kid=self.config.signing_kid)

    def _secret_fields(self) -> tuple[str, ...]:
        """The fields whose secrets a primary grant sends: the client secret or PEM key
        (a Transit key is no secret reference), and a password grant's user and password."""
        cfg = self.config
        fields: tuple[str, ...] = ()
        if cfg.effective_client_auth != "assertion":
            fields = ("client_secret",)
        elif cfg.transit_key is None:
            fields = ("private_key",)
        if cfg.dialect.grant_type == "password":
            fields += ("username", "password")
        return fields

    def _prepare(self) -> tuple[Credentials, AssertionSigner | None, tuple[Secret | None, ...]]:
        """Resolve a fetch's secrets and signer; also the secret values they used
        (in :meth:`_secret_fields` order)."""
        base = self._secrets()
        signer: AssertionSigner | None = None
        key: tuple[Secret | None, ...] = (base.client_secret,)
        if self.config.effective_client_auth == "assertion":
            if self.config.transit_key is None:
                pem = self._resolve("private_key")
                assert pem is not None
                signer, key = self._pem_signer(pem), (pem,)
            else:
                signer, key = self.signer(), ()
        if self.config.dialect.grant_type == "password":
            key += (base.username, base.password)
        return base, signer, key

    def _refused(
        self, exc: TokenRequestError, used: tuple[Secret | None, ...]
    ) -> tuple[Credentials, AssertionSigner | None] | None:
        """After a refused primary grant: fresh credentials to retry once with, or ``None``.

        The one place that decides a re-read: only for wrong client credentials
        (:func:`client_credentials_refused`), only when the resolver dropped a cached
        reference (rate-limited per reference) or another caller already holds a newer
        value, and only when the freshly resolved secret differs from the refused one.
        """
        fields = self._secret_fields()
        if not fields or not client_credentials_refused(exc):
            return None
        refs = [getattr(self.config, name) for name in fields]
        dropped = self.resolver.reread(ref for ref in refs if ref is not None)
        try:
            fresh = self._prepare()
        except SecretError as err:  # the refusal stays the error; say why no retry
            logger.warning(
                "%s token endpoint %s refused the client credentials (HTTP %s); reading "
                "them again failed (%s: %s), not retrying",
                self.config.vendor,
                self._where,
                exc.status,
                type(err).__name__,
                err,
            )
            return None
        if fresh[2] == used:
            return None
        logger.warning(
            "%s token endpoint %s refused the client credentials (HTTP %s); %s read again "
            "and changed: retrying the token request once",
            self.config.vendor,
            self._where,
            exc.status,
            ", ".join(dropped) or ", ".join(fields),
        )
        return fresh[0], fresh[1]

    def _secrets(self) -> Credentials:
        """Resolve the secrets a fetch needs, once (no client assertion yet)."""
        cfg = self.config
        client_secret: Secret | None = None
        if cfg.effective_client_auth != "assertion":
            client_secret = self._resolve("client_secret")
        return Credentials(
            client_secret=client_secret,
            username=self._resolve("username"),
            password=self._resolve("password"),
        )

    def _signed(self, creds: Credentials, signer: AssertionSigner | None) -> Credentials:
        """``creds`` with a freshly signed client assertion (fresh ``jti``), if any."""
        if signer is None:
            return creds
        from vendorgate._secret import Secret
        from vendorgate.signing import build_client_assertion

        cfg = self.config
        assertion = build_client_assertion(
            signer,
            client_id=cfg.client_id,
            audience=cfg.assertion_audience or cfg.effective_token_url,
            lifetime_s=int(cfg.assertion_lifetime_s),
        )
        return replace(creds, client_assertion=Secret(assertion))

    def _assertion_signer(self) -> AssertionSigner | None:
        return self.signer() if self.config.effective_client_auth == "assertion" else None

    def credentials(self) -> Credentials:
        """Resolve the secrets this request needs (and sign a fresh client assertion)."""
        return self._signed(self._secrets(), self._assertion_signer())

    # -- sending -----------------------------------------------------------------

    def _timeout(self, deadline: float) -> Any:
        """This attempt's httpx timeout: the config's, capped at the time left."""
        import httpx

        t = self.config.timeout_s
        base = {"connect": min(t, 10.0), "read": t, "write": t, "pool": t}
        return httpx.Timeout(**attempt_timeout(base, deadline))

    def _verify(self) -> Any:
        from vendorgate._url import tls_verify

        return tls_verify(self.config.verify)

    def _transport_error(self, exc: Exception, request: TokenRequest) -> Exception:
        import httpx

        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return ConfigurationError(
                f"httpx cannot send to {self._where!r} ({type(exc).__name__}); "
                "give a full http(s) URL "
                "with a host, e.g. https://id.example.com/oauth/token",
                field="token_url",
            )
        name = type(exc).__name__
        problem = tls_problem(exc)
        if problem is not None:  # final: the same certificate fails the same way again
            return TokenTransportError(
                f"{self.config.vendor} token endpoint {self._where}: {tls_advice(problem)}",
                vendor=self.config.vendor,
                url=self._where,
            )
        err = TokenTransportError(
            f"{self.config.vendor} token endpoint {self._where} could not be reached "
            f"({name}); check token_url, DNS, proxy and network access",
            vendor=self.config.vendor,
            url=self._where,
        )
        return Retry(err, cause=name, always=True)

    def _too_slow(self) -> TokenTransportError:
        return TokenTransportError(
            f"{self.config.vendor} token endpoint {self._where} did not send its whole reply "
            f"within {self.config.timeout_s:g} s (timeout_s): a slow or stalled server; "
            "retry later or raise timeout_s",
            vendor=self.config.vendor,
            url=self._where,
        )

    def _too_large(self, resp: httpx.Response, limit: int) -> TokenResponseError:
        return TokenResponseError(
            f"{self.config.vendor} token reply is larger than {limit // 1024} KiB "
            "(MAX_TOKEN_REPLY_BYTES), not a token reply; check token_url",
            status=resp.status_code,
            vendor=self.config.vendor,
            url=self._where,
            request_id=request_id(resp.headers),
        )

    def _read(self, request: TokenRequest, resp: httpx.Response, creds: Credentials) -> Token:
        status = resp.status_code
        retry_after = resp.headers.get("Retry-After")
        location = resp.headers.get("Location")
        if location is not None:
            location = safe_url(resp.request.url.join(location))
        try:
            return parse_token_reply(
                self.config,
                status,
                resp.headers.get("Content-Type", ""),
                resp.content,
                grant=request.grant,
                known_secrets=creds.known() + request.known(),
                retry_after=retry_after,
                url=self._where,
                request_id=request_id(resp.headers),
                location=location,
            )
        except TruncatedTokenReply as exc:
            if self._retrier.policy.retry_bad_body:
                raise Retry(exc, cause="bad body (truncated or empty)") from None
            raise
        except TokenRequestError as exc:
            if status in self._retrier.policy.retry_statuses:
                wait = parse_retry_after(retry_after)
                raise Retry(exc, retry_after_s=wait, cause=f"status {status}") from None
            raise

    def _attempt_deadline(self, deadline: float) -> float:
        """This attempt's total deadline: ``timeout_s`` from now, within the budget."""
        import time

        return min(deadline, time.monotonic() + self.config.timeout_s)

    def _post(self, request: TokenRequest, deadline: float) -> httpx.Response:
        import httpx

        deadline = self._attempt_deadline(deadline)
        timeout = self._timeout(deadline)
        try:
            if self._http is not None:
                return self._receive(self._http, request, timeout, deadline)
            with httpx.Client(timeout=timeout, verify=self._verify()) as client:
                return self._receive(client, request, timeout, deadline)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc, request) from None

    def _receive(
        self, client: httpx.Client, request: TokenRequest, timeout: Any, deadline: float
    ) -> httpx.Response:
        sent = client.build_request("POST", request.url, timeout=timeout, **request.httpx_kwargs())
        resp = client.send(sent, stream=True)
        try:
            read_body(resp, deadline=deadline, limit=MAX_TOKEN_REPLY_BYTES)
        except BodyDeadline:
            raise self._too_slow() from None
        except BodyTooLarge as exc:
            raise self._too_large(resp, exc.limit) from None
        return resp

    async def _apost(self, request: TokenRequest, deadline: float) -> httpx.Response:
        import httpx

        deadline = self._attempt_deadline(deadline)
        timeout = self._timeout(deadline)
        try:
            if self._ahttp is not None:
                return await self._areceive(self._ahttp, request, timeout, deadline)
            async with httpx.AsyncClient(timeout=timeout, verify=self._verify()) as client:
                return await self._areceive(client, request, timeout, deadline)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc, request) from None

    async def _areceive(
        self, client: httpx.AsyncClient, request: TokenRequest, http_timeout: Any, deadline: float
    ) -> httpx.Response:
        sent = client.build_request(
            "POST", request.url, timeout=http_timeout, **request.httpx_kwargs()
        )
        resp = await client.send(sent, stream=True)
        try:
            await aread_body(resp, deadline=deadline, limit=MAX_TOKEN_REPLY_BYTES)
        except BodyDeadline:
            raise self._too_slow() from None
        except BodyTooLarge as exc:
            raise self._too_large(resp, exc.limit) from None
        return resp

    def _send(self, build: Callable[[], tuple[TokenRequest, Credentials]]) -> Token:
        """Send the request ``build`` makes, rebuilt per attempt (fresh assertion)."""

        def once(deadline: float) -> Token:
            request, creds = build()
            return self._read(request, self._post(request, deadline), creds)

        return self._retrier.run(once, method="POST", url=self._where, what="token request to")

    async def _asend(
        self, build: Callable[[], tuple[TokenRequest, Credentials]], *, in_thread: bool
    ) -> Token:
        """Async :meth:`_send`; ``in_thread`` runs ``build`` in a worker thread (signing)."""

        async def once(deadline: float) -> Token:
            request, creds = await asyncio.to_thread(build) if in_thread else build()
            return self._read(request, await self._apost(request, deadline), creds)

        return await self._retrier.arun(
            once, method="POST", url=self._where, what="token request to"
        )

    @staticmethod
    def _carry_over(token: Token, previous: Token) -> Token:
        """Keep the previous refresh/id token when a refresh reply does not rotate them."""
        if token.refresh_token or not previous.refresh_token:
            return token
        return replace(
            token,
            refresh_token=previous.refresh_token,
            id_token=token.id_token or previous.id_token,
        )

    @staticmethod
    def _refresh_refused(exc: Exception) -> bool:
        if isinstance(exc, TokenResponseError):
            return True
        return isinstance(exc, TokenRequestError) and exc.status is not None

    # -- public --------------------------------------------------------------------

    def build_request(self, previous: Token | None = None) -> TokenRequest:
        """Resolve secrets and build the request :meth:`fetch` would send first."""
        creds = self.credentials()
        if previous is not None:
            refresh = build_refresh_request(self.config, creds, previous)
            if refresh is not None:
                return refresh
        return build_token_request(self.config, creds)

    def _primary(
        self, base: Credentials, signer: AssertionSigner | None
    ) -> Callable[[], tuple[TokenRequest, Credentials]]:
        def build() -> tuple[TokenRequest, Credentials]:
            creds = self._signed(base, signer)
            return build_token_request(self.config, creds), creds

        return build

    def _send_primary(
        self, base: Credentials, signer: AssertionSigner | None, used: tuple[Secret | None, ...]
    ) -> Token:
        """The primary grant; once more with re-read credentials if they were refused."""
        try:
            return self._send(self._primary(base, signer))
        except TokenRequestError as exc:
            fresh = self._refused(exc, used)
            if fresh is None:
                raise
        return self._send(self._primary(*fresh))

    async def _asend_primary(
        self, base: Credentials, signer: AssertionSigner | None, used: tuple[Secret | None, ...]
    ) -> Token:
        """Async :meth:`_send_primary`."""
        try:
            return await self._asend(self._primary(base, signer), in_thread=signer is not None)
        except TokenRequestError as exc:
            fresh = await asyncio.to_thread(self._refused, exc, used)
            if fresh is None:
                raise
        return await self._asend(self._primary(*fresh), in_thread=fresh[1] is not None)

    def fetch(self, previous: Token | None = None) -> Token:
        """Request a new token (refresh grant first when ``previous`` allows it).

        Raises:
            TokenRequestError: the endpoint refused (status, vendor, safe URL, request id,
                hint, redacted body) after retries.
            TokenTransportError: the endpoint could not be reached (a
                ``TokenRequestError`` and a ``TransportError``; status ``None``).
            TokenResponseError: the reply is not a usable token reply.
            TokenValidationError: the token failed JWKS validation (TCI).
            SecretError: a secret could not be resolved (Vault, env, file, PEM).
            ConfigurationError: the token URL cannot be used (``field="token_url"``).
        """
        base, signer, used = self._prepare()
        token: Token | None = None
        if previous is not None:
            refresh = build_refresh_request(self.config, base, previous)
            if refresh is not None:
                try:
                    token = self._carry_over(self._send(lambda: (refresh, base)), previous)
                except (TokenRequestError, TokenResponseError) as exc:
                    if not self._refresh_refused(exc):
                        raise
        if token is None:
            token = self._send_primary(base, signer, used)
        if self._validator is not None:
            self._validator.validate(token.access_token, http_client=self._http)
        return token

    async def afetch(self, previous: Token | None = None) -> Token:
        """Async :meth:`fetch`; secrets and assertion signing run in a worker thread."""
        base, signer, used = await asyncio.to_thread(self._prepare)
        token: Token | None = None
        if previous is not None:
            refresh = build_refresh_request(self.config, base, previous)
            if refresh is not None:
                try:
                    sent = await self._asend(lambda: (refresh, base), in_thread=False)
                    token = self._carry_over(sent, previous)
                except (TokenRequestError, TokenResponseError) as exc:
                    if not self._refresh_refused(exc):
                        raise
        if token is None:
            token = await self._asend_primary(base, signer, used)
        if self._validator is not None:
            await self._validator.avalidate(token.access_token, http_client=self._ahttp)
        return token
