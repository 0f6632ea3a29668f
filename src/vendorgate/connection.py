"""``VendorConnection``: one serialisable description of "this vendor, this client".

A connection spec sits above :class:`~vendorgate.TokenConfig`: the token configuration
plus the API base URL, the token cache (a backend chosen by name with plain options),
the retry policy, the rate limit, default headers and the API timeout. Its mapping form
is plain JSON holding secret *references* only, so an Airflow trigger, a Prefect block
or a TOML file carries it, and :meth:`VendorConnection.from_mapping` rebuilds an equal
spec. :meth:`~VendorConnection.provider`, :meth:`~VendorConnection.client` and
:meth:`~VendorConnection.async_client` build the working objects; specs with equal cache
options share one :class:`~vendorgate.cache.TokenCache` per process.

Example:
    >>> import os
    >>> from vendorgate import VendorConnection
    >>> os.environ["LW_SECRET"] = "example"
    >>> spec = VendorConnection.from_mapping({
    ...     "token": {"preset": "lonewolf", "client_id": "me", "client_secret": "env:LW_SECRET"},
    ...     "base_url": "https://api.example.com",
    ...     "retry": {"attempts": 3},
    ... })
    >>> spec.to_mapping()["retry"]
    {'attempts': 3}
    >>> VendorConnection.from_mapping(spec.to_mapping()) == spec
    True
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from vendorgate import _validate as check
from vendorgate._errors import ConfigurationError
from vendorgate._mapping import prefixed
from vendorgate.tokens._config import TokenConfig

if TYPE_CHECKING:
    from vendorgate.cache import TokenCache
    from vendorgate.http import AsyncVendorClient, RateLimit, RetryPolicy, VendorClient
    from vendorgate.tokens import TokenProvider

__all__ = ["VendorConnection", "shared_cache"]

#: Keys of the mapping form, in the order :meth:`VendorConnection.to_mapping` writes them.
KEYS: Final = ("token", "base_url", "cache", "retry", "rate_limit", "headers", "timeout_s")
_DEFAULT_TIMEOUT_S: Final = 30.0
#: Connect timeout cap: a vendor that does not accept a connection in 10 s is down.
_CONNECT_TIMEOUT_S: Final = 10.0

# -- one token cache per process for equal cache options --------------------------------

# Canonical JSON of the options -> the cache. Live caches are found through the weak
# map as long as anything (a provider, a client) holds them; the last few used stay
# alive in the bounded LRU even when nothing does, so short-lived providers share too.


def _canonical(options: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(options), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise ConfigurationError(
            "must hold plain JSON values only (strings, numbers, booleans, lists, tables); "
            'e.g. {"backend": "redis", "url": "redis://cache:6379/0"}',
            field="cache",
        ) from None


def _is_memory_only(options: Mapping[str, Any]) -> bool:
    return not options or dict(options) == {"backend": "memory"}


def shared_cache(options: Mapping[str, Any] | None) -> TokenCache:
    """The process's token cache for these cache options, built on first use.

    ``None``, ``{}`` and ``{"backend": "memory"}`` give the process-wide memory cache
    (:func:`vendorgate.cache.default_cache`); equal options give the same cache object
    (:func:`vendorgate.cache.shared_cache`).

    Raises:
        ConfigurationError: the options are not plain JSON or name an unknown backend or
            option (the error names the field, e.g. ``cache.backend``).
    """
    from vendorgate.cache import default_cache
    from vendorgate.cache import shared_cache as _shared

    if options is None or _is_memory_only(options):
        return default_cache()
    return _shared(json.loads(_canonical(options)), field="cache")


# -- the spec ---------------------------------------------------------------------------


def _check_headers(value: Any) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(k, v) for k, v in items]
    except (TypeError, ValueError):
        raise ConfigurationError(
            'must be a table of header name = value, e.g. {"Accept": "application/json"}',
            field="headers",
        ) from None
    for name, text in pairs:
        if not isinstance(name, str) or not name.strip() or not isinstance(text, str):
            raise ConfigurationError(
                "header names and values must be non-empty strings", field="headers"
            )
        if name.strip().lower() == "authorization":
            raise ConfigurationError(
                "the token provider sets Authorization; remove it (headers are plain, "
                "non-secret values written out by to_mapping())",
                field=f"headers.{name}",
            )
    return tuple(sorted(pairs))


@dataclass(frozen=True, repr=False)
class VendorConnection:
    """Everything needed to call one vendor's API as one client.

    Frozen and validated at construction: errors name the field (``token.client_id``,
    ``cache.backend``, ``retry.attempts``) and the accepted forms, never a secret value.

    Attributes:
        token: The token request (dialect, client id, secret references).
        base_url: Prefix of relative API URLs (``None``: give full URLs).
        cache: Options of the token cache (see :func:`vendorgate.cache.cache_from_mapping`),
            e.g. ``{"backend": "redis", "url": "redis://cache:6379/0"}``; ``None``: the
            process's memory cache. Plain JSON values only.
        retry: Retry policy of API calls (``None``: :class:`~vendorgate.RetryPolicy`
            defaults).
        rate_limit: Rate and concurrency limit of API calls (``None``: none until a 429
            is seen).
        headers: Default headers of every API call, as ``(name, value)`` pairs (a
            mapping is accepted); plain, non-secret values.
        timeout_s: Timeout of one API request attempt, in seconds (connecting is capped
            at 10 s).

    Example:
        >>> from vendorgate import TokenConfig, VendorConnection, get_dialect
        >>> spec = VendorConnection(
        ...     TokenConfig(get_dialect("wokelo"), client_id="me",
        ...                 client_secret="env:WOKELO_SECRET"),
        ...     base_url="https://api.wokelo.ai",
        ...     cache={"backend": "file", "directory": "/tmp/vendorgate-cache"},
        ... )
        >>> spec.to_mapping()["cache"]
        {'backend': 'file', 'directory': '/tmp/vendorgate-cache'}
    """

    token: TokenConfig
    base_url: str | None = None
    cache: Mapping[str, Any] | None = None
    retry: RetryPolicy | None = None
    rate_limit: RateLimit | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = _DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        if not isinstance(self.token, TokenConfig):
            raise ConfigurationError(
                "must be a TokenConfig; use VendorConnection.from_mapping() for a table",
                field="token",
            )
        if self.base_url is not None and (
            not isinstance(self.base_url, str)
            or not self.base_url.startswith(("http://", "https://"))
        ):
            raise ConfigurationError(
                "must be an http(s) URL such as https://api.example.com, or null",
                field="base_url",
            )
        if self.cache is not None:
            if not isinstance(self.cache, Mapping):
                raise ConfigurationError(
                    'must be a table such as {"backend": "redis", "url": "redis://cache:6379/0"}'
                    ", or null for the process's memory cache",
                    field="cache",
                )
            key = _canonical(self.cache)
            cache: Mapping[str, Any] | None = types.MappingProxyType(json.loads(key))
            if _is_memory_only(self.cache):
                cache = None
            object.__setattr__(self, "cache", cache)
            # Validates names and options now (errors at construction, not first call).
            shared_cache(cache)
        self._check_http_settings()
        object.__setattr__(self, "headers", _check_headers(self.headers))
        check.number(
            self.timeout_s,
            "timeout_s",
            minimum=0.0,
            min_inclusive=False,
            message="must be a positive number of seconds (finite: not NaN or infinity)",
        )

    def _check_http_settings(self) -> None:
        # Imported here: the http package is only loaded when a spec uses these settings.
        if self.retry is not None:
            from vendorgate.http._retry import RetryPolicy

            if not isinstance(self.retry, RetryPolicy):
                raise ConfigurationError(
                    "must be a RetryPolicy, or a table of its settings in from_mapping()",
                    field="retry",
                )
        if self.rate_limit is not None:
            from vendorgate.http._ratelimit import RateLimit

            if not isinstance(self.rate_limit, RateLimit):
                raise ConfigurationError(
                    "must be a RateLimit, or a table of its settings in from_mapping()",
                    field="rate_limit",
                )

    def __repr__(self) -> str:
        shown = [repr(self.token)]
        if self.base_url is not None:
            shown.append(f"base_url={self.base_url!r}")
        if self.cache is not None:
            # Options may hold a URL with credentials: show the backend name only.
            shown.append(f"cache=<{self.cache.get('backend', 'memory')}>")
        if self.retry is not None:
            shown.append(f"retry={self.retry!r}")
        if self.rate_limit is not None:
            shown.append(f"rate_limit={self.rate_limit!r}")
        if self.headers:
            shown.append(f"headers=<{', '.join(n for n, _ in self.headers)}>")
        if self.timeout_s != _DEFAULT_TIMEOUT_S:
            shown.append(f"timeout_s={self.timeout_s!r}")
        return f"VendorConnection({', '.join(shown)})"

    def __hash__(self) -> int:
        return hash(
            (
                self.token,
                self.base_url,
                None if self.cache is None else _canonical(self.cache),
                self.retry,
                self.rate_limit,
                self.headers,
                self.timeout_s,
            )
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (multiprocessing, framework result stores): the read-only view of
        # the cache options is rebuilt from a plain dict.
        cache = None if self.cache is None else dict(self.cache)
        fields = (self.token, self.base_url, cache, self.retry, self.rate_limit)
        return (type(self), (*fields, self.headers, self.timeout_s))

    @property
    def vendor(self) -> str:
        """The dialect's name."""
        return self.token.vendor

    def with_overrides(self, **changes: Any) -> VendorConnection:
        """Return a copy with some fields changed (validated again)."""
        return replace(self, **changes)

    # -- mapping form --------------------------------------------------------------------

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON with secret references only; inverse of :meth:`from_mapping`.

        Raises:
            ConfigurationError: the token configuration holds a secret *value* (a
                :class:`~vendorgate.Secret`), which is never written out; the error
                names the field (``token.client_secret``). Give a reference instead.
        """
        try:
            out: dict[str, Any] = {"token": self.token.to_mapping()}
        except ConfigurationError as exc:
            raise prefixed(exc, "token") from None
        if self.base_url is not None:
            out["base_url"] = self.base_url
        if self.cache is not None:
            out["cache"] = json.loads(_canonical(self.cache))
        if self.retry is not None:
            out["retry"] = self.retry.to_mapping()
        if self.rate_limit is not None:
            out["rate_limit"] = self.rate_limit.to_mapping()
        if self.headers:
            out["headers"] = dict(self.headers)
        if self.timeout_s != _DEFAULT_TIMEOUT_S:
            out["timeout_s"] = self.timeout_s
        return out

    def to_json(self) -> str:
        """:meth:`to_mapping` as compact JSON text."""
        return json.dumps(self.to_mapping(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> VendorConnection:
        """Build a spec from plain values (a dict, a TOML table, JSON).

        Keys: ``token`` (a table of :class:`~vendorgate.TokenConfig` settings, required),
        ``base_url``, ``cache``, ``retry`` (a table of
        :class:`~vendorgate.RetryPolicy` settings), ``rate_limit`` (a table of
        :class:`~vendorgate.RateLimit` settings), ``headers`` (a table of name = value)
        and ``timeout_s``.

        Raises:
            ConfigurationError: an unknown key, a value of the wrong type, an unknown
                preset or cache backend, or a secret where a reference is required; the
                error names the field (``token.client_secret``) and the accepted forms.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                "a connection spec must be a table with at least a 'token' table",
                field="connection",
            )
        for key in data:
            if key not in KEYS:
                raise ConfigurationError(
                    f"unknown connection setting {key!r}; valid settings: {', '.join(KEYS)}",
                    field=str(key),
                )
        token = data.get("token")
        if not isinstance(token, Mapping):
            raise ConfigurationError(
                "is required: a table of token settings (preset, client_id, client_secret, ...)",
                field="token",
            )
        try:
            config = TokenConfig.from_mapping(token)
        except ConfigurationError as exc:
            raise prefixed(exc, "token") from None
        kwargs: dict[str, Any] = {}
        if data.get("retry") is not None:
            from vendorgate.http._retry import RetryPolicy

            kwargs["retry"] = RetryPolicy.from_mapping(data["retry"], field="retry")
        if data.get("rate_limit") is not None:
            from vendorgate.http._ratelimit import RateLimit

            kwargs["rate_limit"] = RateLimit.from_mapping(data["rate_limit"], field="rate_limit")
        for key in ("base_url", "cache", "headers", "timeout_s"):
            if data.get(key) is not None:
                kwargs[key] = data[key]
        return cls(config, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> VendorConnection:
        """Build a spec from :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigurationError("not valid JSON", field="connection") from None
        return cls.from_mapping(data)

    # -- working objects -----------------------------------------------------------------

    def token_cache(self) -> TokenCache:
        """The process's token cache for :attr:`cache` (shared by equal options)."""
        return shared_cache(self.cache)

    def provider(self, **overrides: Any) -> TokenProvider:
        """A token provider using the process's shared cache for these cache options.

        Args:
            **overrides: Keyword arguments of :class:`~vendorgate.TokenProvider`
                (``resolver``, ``http_client``, ...), passed on as they are.
        """
        from vendorgate.tokens._provider import TokenProvider

        kwargs: dict[str, Any] = {"cache": self.token_cache(), **overrides}
        return TokenProvider(self.token, **kwargs)

    def _client_kwargs(self, overrides: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        import httpx

        source = overrides.pop("source") if "source" in overrides else self.provider()
        kwargs: dict[str, Any] = {
            "base_url": self.base_url or "",
            "retry": self.retry,
            "rate_limit": self.rate_limit,
            "headers": dict(self.headers),
            "timeout": httpx.Timeout(
                self.timeout_s, connect=min(_CONNECT_TIMEOUT_S, self.timeout_s)
            ),
        }
        kwargs.update(overrides)
        return source, kwargs

    def client(self, **overrides: Any) -> VendorClient:
        """A synchronous API client (token, retries, rate limit, headers, timeout).

        Args:
            **overrides: Keyword arguments of :class:`~vendorgate.VendorClient` that
                replace the spec's (``transport``, ``verify``, ``source``, ...).
        """
        from vendorgate.http._client import VendorClient

        source, kwargs = self._client_kwargs(dict(overrides))
        return VendorClient(source, **kwargs)

    def async_client(self, **overrides: Any) -> AsyncVendorClient:
        """An asynchronous API client; see :meth:`client`."""
        from vendorgate.http._client import AsyncVendorClient

        source, kwargs = self._client_kwargs(dict(overrides))
        return AsyncVendorClient(source, **kwargs)
