"""Access-token validation against a vendor's JWKS (TCI ATM publishes one).

The JWKS is fetched once per URL per process and cached (``ttl_s``); concurrent first
validations share one fetch per URL (single flight: one lock per URL for threads, one
per URL and event loop for tasks). The key set is read streamed, at most
:data:`MAX_JWKS_BYTES` (256 KiB): a larger reply ends the read with a
:class:`~vendorgate.TokenValidationError` naming the limit and the URL. A token whose
``kid`` is not in the cached set triggers one refetch (at most one per
``min_refetch_interval_s`` per URL), which picks up a key rotation. Expired,
not-yet-valid and wrong-audience tokens are rejected with
:class:`~vendorgate.TokenValidationError` naming the ``kid``, ``aud`` or ``exp`` --
never the token.

Clocks: the client is not the resource server, and a token it has just received was
issued by the vendor's clock. ``iat`` and ``nbf`` are therefore checked with a wide
leeway (``iat_leeway_s``, default :data:`IAT_LEEWAY_S` = 5 minutes): a worker whose
clock is behind the vendor's by less than that accepts fresh tokens. ``exp`` keeps a
small leeway (``leeway_s``, 5 s). Every time-related message says "clock" and how far
apart the clocks look.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vendorgate._errors import TokenValidationError
from vendorgate._retry import BodyTooLarge, aread_body, read_body
from vendorgate._url import safe_url, tls_verify

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    import httpx
    from jwt import PyJWK

__all__ = ["IAT_LEEWAY_S", "MAX_JWKS_BYTES", "JwksValidator", "clear_jwks_cache"]

#: Default tolerance, in seconds, for a token's ``iat``/``nbf`` lying in this host's
#: future (this host's clock behind the vendor's).
IAT_LEEWAY_S = 300.0

#: The largest JWKS document read, in (decoded) bytes: 256 KiB. A key set is a few KB
#: (about 1.5 KB per RSA key); a larger reply is not a JWKS (a wrong ``jwks_url``, a
#: broken server) and reading stops there, with a :class:`~vendorgate.TokenValidationError`.
MAX_JWKS_BYTES: int = 256 * 1024


@dataclass
class _Entry:
    keys: dict[str, PyJWK]
    fetched_at: float
    last_refetch: float = float("-inf")


_CACHE: dict[str, _Entry] = {}
_LOCK = threading.Lock()
# Single flight: one fetch lock per URL (threads), and per URL and event loop (tasks).
_FETCH_LOCKS: dict[str, threading.Lock] = {}
_AFETCH_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _fetch_lock(url: str) -> threading.Lock:
    with _LOCK:
        return _FETCH_LOCKS.setdefault(url, threading.Lock())


def _afetch_lock(url: str) -> asyncio.Lock:
    import asyncio

    loop = asyncio.get_running_loop()
    with _LOCK:
        locks = _AFETCH_LOCKS.setdefault(loop, {})
        return locks.setdefault(url, asyncio.Lock())


def clear_jwks_cache() -> None:
    """Forget every cached JWKS (tests and key-rotation drills)."""
    with _LOCK:
        _CACHE.clear()
        _FETCH_LOCKS.clear()


def _parse_jwks(url: str, body: bytes) -> dict[str, PyJWK]:
    from jwt import PyJWKSet
    from jwt.exceptions import PyJWKSetError

    try:
        data = json.loads(body)
        jwks = PyJWKSet.from_dict(data)
    except (ValueError, PyJWKSetError) as exc:
        raise TokenValidationError(
            f"the JWKS at {safe_url(url)} is not a usable key set ({type(exc).__name__}); "
            "check jwks_url"
        ) from None
    keys: dict[str, PyJWK] = {}
    for key in jwks.keys:
        if key.key_id:
            keys[key.key_id] = key
    return keys


class JwksValidator:
    """Verify access tokens against one JWKS URL.

    Args:
        jwks_url: Where the key set is published.
        audience: Expected ``aud`` claim (``None``: not checked).
        algorithms: Accepted signature algorithms.
        issuer: Expected ``iss`` claim (``None``: not checked).
        ttl_s: How long a fetched key set is trusted before it is fetched again.
        min_refetch_interval_s: At most one refetch on an unknown ``kid`` per this
            many seconds per URL.
        leeway_s: Clock skew tolerated on ``exp``, in seconds.
        iat_leeway_s: Clock skew tolerated on ``iat``/``nbf`` (this host's clock behind
            the vendor's), in seconds; default :data:`IAT_LEEWAY_S` (5 minutes).
        timeout_s: Timeout of the JWKS request.
        vendor: Name used in error messages.
        verify: TLS verification when the validator opens its own client (see
            :attr:`vendorgate.tokens.TokenConfig.verify`).
        clock: Returns this host's epoch time (tests inject a skewed one).
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        audience: str | None = None,
        algorithms: tuple[str, ...] = ("RS256",),
        issuer: str | None = None,
        ttl_s: float = 3600.0,
        min_refetch_interval_s: float = 30.0,
        leeway_s: float = 5.0,
        iat_leeway_s: float = IAT_LEEWAY_S,
        timeout_s: float = 10.0,
        vendor: str = "vendor",
        verify: bool | str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.verify = verify
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.issuer = issuer
        self.ttl_s = ttl_s
        self.min_refetch_interval_s = min_refetch_interval_s
        self.leeway_s = leeway_s
        self.iat_leeway_s = iat_leeway_s
        self._clock = clock
        self.timeout_s = timeout_s
        self.vendor = vendor

    @property
    def _where(self) -> str:
        """The JWKS URL as it may appear in messages (no user info or query)."""
        return safe_url(self.jwks_url)

    # -- header --------------------------------------------------------------------

    def _kid(self, token: str) -> str:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.exceptions.DecodeError:
            raise TokenValidationError(
                f"{self.vendor} access token is not a JWT; it cannot be verified against "
                f"{self._where} (set validate_tokens=False if the vendor changed token format)"
            ) from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise TokenValidationError(
                f"{self.vendor} access token uses alg {alg!r}; expected one of "
                f"{', '.join(self.algorithms)}"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenValidationError(
                f"{self.vendor} access token has no 'kid' header; cannot pick a key from "
                f"{self._where}"
            )
        return kid

    # -- key lookup ----------------------------------------------------------------

    def _lookup(self, kid: str, now: float) -> tuple[PyJWK | None, str]:
        """Return (key, action): action is ``ok``, ``fetch`` or ``refetch``/``give-up``."""
        entry = _CACHE.get(self.jwks_url)
        if entry is None or now - entry.fetched_at > self.ttl_s:
            return None, "fetch"
        key = entry.keys.get(kid)
        if key is not None:
            return key, "ok"
        if now - entry.last_refetch >= self.min_refetch_interval_s:
            return None, "refetch"
        return None, "give-up"

    def _store(self, body: bytes, *, refetch: bool, now: float) -> None:
        keys = _parse_jwks(self.jwks_url, body)
        with _LOCK:
            previous = _CACHE.get(self.jwks_url)
            last = now if refetch else (previous.last_refetch if previous else float("-inf"))
            _CACHE[self.jwks_url] = _Entry(keys, now, last)

    def _unknown_kid(self, kid: str) -> TokenValidationError:
        entry = _CACHE.get(self.jwks_url)
        known = ", ".join(sorted(entry.keys)) if entry else "none"
        return TokenValidationError(
            f"{self.vendor} access token is signed with unknown kid {kid!r}; the JWKS at "
            f"{self._where} has {known} (refetched once); the vendor may be rotating keys, "
            "retry later"
        )

    def _fetch_error(self, exc: Exception | None, status: int | None) -> TokenValidationError:
        why = f"HTTP {status}" if status is not None else type(exc).__name__
        return TokenValidationError(
            f"cannot fetch the JWKS at {self._where} to verify {self.vendor} tokens ({why}); "
            "check jwks_url and network access"
        )

    def _too_large(self, limit: int) -> TokenValidationError:
        return TokenValidationError(
            f"the JWKS at {self._where} is larger than {limit // 1024} KiB (MAX_JWKS_BYTES), "
            "not a key set, so it was not read; check jwks_url"
        )

    def _request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return client.build_request("GET", self.jwks_url, timeout=self.timeout_s)

    def _get(self, client: httpx.Client) -> bytes:
        """GET the JWKS streamed: the status first, then at most MAX_JWKS_BYTES of body."""
        resp = client.send(self._request(client), stream=True)
        if resp.status_code != 200:
            resp.close()
            raise self._fetch_error(None, resp.status_code)
        try:
            return read_body(resp, deadline=None, limit=MAX_JWKS_BYTES)
        except BodyTooLarge as exc:
            raise self._too_large(exc.limit) from None

    async def _aget(self, client: httpx.AsyncClient) -> bytes:
        """Async :meth:`_get`."""
        resp = await client.send(self._request(client), stream=True)
        if resp.status_code != 200:
            await resp.aclose()
            raise self._fetch_error(None, resp.status_code)
        try:
            return await aread_body(resp, deadline=None, limit=MAX_JWKS_BYTES)
        except BodyTooLarge as exc:
            raise self._too_large(exc.limit) from None

    def _fetch_sync(self, client: httpx.Client | None, *, refetch: bool) -> None:
        import httpx

        try:
            if client is None:
                with httpx.Client(timeout=self.timeout_s, verify=tls_verify(self.verify)) as own:
                    body = self._get(own)
            else:
                body = self._get(client)
        except httpx.HTTPError as exc:
            raise self._fetch_error(exc, None) from exc
        self._store(body, refetch=refetch, now=time.monotonic())

    async def _fetch_async(self, client: httpx.AsyncClient | None, *, refetch: bool) -> None:
        import httpx

        try:
            if client is None:
                async with httpx.AsyncClient(
                    timeout=self.timeout_s, verify=tls_verify(self.verify)
                ) as own:
                    body = await self._aget(own)
            else:
                body = await self._aget(client)
        except httpx.HTTPError as exc:
            raise self._fetch_error(exc, None) from exc
        self._store(body, refetch=refetch, now=time.monotonic())

    def key_for(self, token: str, *, http_client: httpx.Client | None = None) -> PyJWK:
        """Return the JWKS key that signed ``token`` (fetching or refetching once)."""
        kid = self._kid(token)
        for _ in range(3):
            key, action = self._lookup(kid, time.monotonic())
            if key is not None:
                return key
            if action == "give-up":
                break
            with _fetch_lock(self.jwks_url):
                # Another thread may have fetched while this one waited: look again.
                key, action = self._lookup(kid, time.monotonic())
                if key is not None:
                    return key
                if action == "give-up":
                    break
                self._fetch_sync(http_client, refetch=action == "refetch")
        raise self._unknown_kid(kid)

    async def akey_for(self, token: str, *, http_client: httpx.AsyncClient | None = None) -> PyJWK:
        """Async :meth:`key_for`."""
        kid = self._kid(token)
        for _ in range(3):
            key, action = self._lookup(kid, time.monotonic())
            if key is not None:
                return key
            if action == "give-up":
                break
            async with _afetch_lock(self.jwks_url):
                key, action = self._lookup(kid, time.monotonic())
                if key is not None:
                    return key
                if action == "give-up":
                    break
                await self._fetch_async(http_client, refetch=action == "refetch")
        raise self._unknown_kid(kid)

    # -- verification --------------------------------------------------------------

    def _verify(self, token: str, key: PyJWK) -> dict[str, Any]:
        import jwt

        kid = key.key_id
        options: Any = {
            "require": ["exp"],
            "verify_aud": self.audience is not None,
            # Time claims are checked below, by this validator's clock and leeways.
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
        }
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                options=options,
            )
        except jwt.InvalidAudienceError:
            aud = jwt.decode(token, options={"verify_signature": False}).get("aud")
            raise TokenValidationError(
                f"{self.vendor} access token (kid {kid!r}) has aud={aud!r}, expected "
                f"{self.audience!r}; check expected_audience"
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenValidationError(
                f"{self.vendor} access token (kid {kid!r}) has the wrong issuer; expected "
                f"{self.issuer!r}"
            ) from None
        except jwt.InvalidSignatureError:
            raise TokenValidationError(
                f"{self.vendor} access token signature does not verify with kid {kid!r} from "
                f"{self._where}; the token was not issued by this vendor"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenValidationError(
                f"{self.vendor} access token (kid {kid!r}) lacks the {exc.claim!r} claim"
            ) from None
        except jwt.PyJWTError as exc:
            raise TokenValidationError(
                f"{self.vendor} access token (kid {kid!r}) is invalid: {type(exc).__name__}"
            ) from None
        self._check_times(claims, kid)
        return claims

    def _check_times(self, claims: dict[str, Any], kid: str | None) -> None:
        """``exp``, ``iat`` and ``nbf`` against this host's clock, with the leeways."""
        now = self._clock()
        what = f"{self.vendor} access token (kid {kid!r})"
        times: dict[str, float] = {}
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TokenValidationError(f"{what} has a non-numeric {name!r} claim")
            times[name] = float(value)
        for name in ("iat", "nbf"):
            ahead = times.get(name, float("-inf")) - now
            if ahead > self.iat_leeway_s:
                raise TokenValidationError(
                    f"{what} has {name}={times[name]:.0f}, {ahead:.0f} s ahead of this "
                    f"host's clock: this host's clock looks {ahead:.0f} s behind the "
                    f"vendor's (tolerated: {self.iat_leeway_s:.0f} s). Fix the clock "
                    "(NTP), or give TokenFetcher a JwksValidator(iat_leeway_s=...)"
                )
        exp = times["exp"]
        if exp <= now - self.leeway_s:
            issued = times.get("iat")
            hint = (
                f"it was issued {now - issued:.0f} s ago by this host's clock, so this "
                "host's clock looks ahead of the vendor's"
                if issued is not None and issued < exp
                else "check the clocks of this host and the vendor"
            )
            raise TokenValidationError(
                f"{what} expired at exp={exp:.0f}, {now - exp:.0f} s ago by this host's "
                f"clock; {hint}. Fix the clock (NTP), then request a new token"
            )

    def validate(self, token: str, *, http_client: httpx.Client | None = None) -> dict[str, Any]:
        """Verify ``token``; return its claims.

        Raises:
            TokenValidationError: bad signature, unknown kid, wrong audience, expired,
                or the JWKS cannot be fetched.
        """
        return self._verify(token, self.key_for(token, http_client=http_client))

    async def avalidate(
        self, token: str, *, http_client: httpx.AsyncClient | None = None
    ) -> dict[str, Any]:
        """Async :meth:`validate` (the JWKS is fetched with an async client)."""
        key = await self.akey_for(token, http_client=http_client)
        return self._verify(token, key)
