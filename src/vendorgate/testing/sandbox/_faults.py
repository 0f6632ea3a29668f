"""Faults a test injects into the sandbox (:class:`Faults`); what it counted (:class:`Counters`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vendorgate._errors import ConfigurationError

__all__ = ["Counters", "Faults"]

_INT_FIELDS = (
    "latency_ms",
    "status_every",
    "status_burst",
    "reset_every",
    "reset_burst",
    "truncate_every",
    "truncate_burst",
    "rate_limit_burst",
    "report_ready_after_polls",
    "report_fail_every",
    "report_fail_burst",
    "drip_ms",
    "drip_bytes",
    "huge_body_bytes",
)

#: Accepted values of :attr:`Faults.rate_limit_headers`.
RATE_LIMIT_HEADER_STYLES = ("ietf", "x", "x-epoch", "both")


@dataclass(frozen=True)
class Faults:
    """Faults injected into every request whose path matches :attr:`path`.

    Request-counting faults (``*_every``, ``*_burst``) count the matching requests since
    the faults were set, starting at 1: a burst of N hits requests 1..N, "every N" hits
    requests N, 2N, ... The ``/_sandbox/`` control endpoints are never faulted.

    Attributes:
        path: Glob (``fnmatch``) on the request path, e.g. ``"/lonewolf/api/*"``.
        latency_ms: Delay before every matching reply, in milliseconds.
        status: Status to answer instead of the real reply (429, 500, 502, 503, 504, ...).
            With neither ``status_every`` nor ``status_burst`` it hits every request.
        status_every: Answer ``status`` on every Nth matching request.
        status_burst: Answer ``status`` on the first N matching requests.
        retry_after_s: ``Retry-After`` seconds sent with an injected 429/503 (and with
            the rate limit's 429).
        retry_after_http_date: Send ``Retry-After`` as an HTTP-date instead of seconds.
        reset_every: Close the connection without a reply on every Nth matching request.
        reset_burst: Close the connection without a reply on the first N matching requests.
        reset_mid_body: Reset after half of the body instead of before the reply.
        truncate_every: Cut the JSON body in half (consistent ``Content-Length``) every N.
        truncate_burst: Cut the JSON body in half on the first N matching requests.
        html_token_endpoint: Token endpoints answer 200 with an HTML page.
        rate_limit_rps: Token-bucket request rate limit; beyond it 429 with Retry-After.
        rate_limit_burst: Bucket capacity of the rate limit.
        rate_limit_headers: Describe the rate limit in reply headers (off by default):
            ``"ietf"`` for ``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi draft),
            ``"x"`` for ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (seconds),
            ``"x-epoch"`` the same with ``-Reset`` as a Unix time (GitHub's form),
            ``"both"`` for ``"ietf"`` and ``"x"``. Sent on every reply the rate limit
            applies to, 429s included.
        token_lifetime_s: Token lifetime overrides per vendor (``"tci"``, ``"wokelo"``,
            ... or ``"*"`` for all), in seconds.
        report_ready_after_polls: Status polls a new report job answers ``running``
            before it is ``ready`` (0: the first poll answers ``ready``). Report fields
            apply to jobs created after they are set, whatever :attr:`path` says.
        report_ready_after_s: Seconds after its creation before a report job can be
            ``ready`` (polls before that answer ``running``).
        report_fail_every: Every Nth report job created ends ``failed``.
        report_fail_burst: The first N report jobs created end ``failed``.
        clock_offset_s: The vendor's clock runs this many seconds ahead of the host's
            (negative: behind). Issued tokens' ``iat``/``exp``, the client-assertion
            time checks and access-token expiry use the vendor's clock. Applies
            whatever :attr:`path` says.
        drip_ms: Send every matching reply's body slowly: ``drip_bytes`` bytes, then a
            pause of this many milliseconds, until the body is sent (a trickling server).
        drip_bytes: Bytes sent per drip (default 1).
        huge_body_bytes: Matching replies carry a valid JSON object padded to this many
            bytes (``{"pad": "xxx..."}``), status 200, for size limits.
        reply_body: Matching requests are answered with this text as their body (and
            ``reply_status``, ``reply_headers``) instead of the real reply: odd token
            replies (``{"access_token": "t", "expires_in": Infinity}``), redirects.
        reply_status: Status sent with ``reply_body`` (default 200; 100-599).
        reply_headers: Headers sent with ``reply_body``, e.g. ``{"Location": "/x"}``;
            ``Content-Type`` defaults to ``application/json``.
    """

    path: str = "*"
    latency_ms: int = 0
    status: int | None = None
    status_every: int = 0
    status_burst: int = 0
    retry_after_s: int | None = None
    retry_after_http_date: bool = False
    reset_every: int = 0
    reset_burst: int = 0
    reset_mid_body: bool = False
    truncate_every: int = 0
    truncate_burst: int = 0
    html_token_endpoint: bool = False
    rate_limit_rps: float | None = None
    rate_limit_burst: int = 1
    rate_limit_headers: str | None = None
    token_lifetime_s: Mapping[str, int] = field(default_factory=dict)
    report_ready_after_polls: int = 1
    report_ready_after_s: float = 0.0
    report_fail_every: int = 0
    report_fail_burst: int = 0
    clock_offset_s: float = 0.0
    drip_ms: int = 0
    drip_bytes: int = 1
    huge_body_bytes: int = 0
    reply_body: str | None = None
    reply_status: int = 200
    reply_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise ConfigurationError("must be a non-empty glob such as '*'", field="path")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigurationError("must be an integer >= 0", field=name)
        if self.status is not None and (
            not isinstance(self.status, int) or not 400 <= self.status <= 599
        ):
            raise ConfigurationError("must be an HTTP error status 400..599", field="status")
        if self.retry_after_s is not None and (
            not isinstance(self.retry_after_s, int) or self.retry_after_s < 0
        ):
            raise ConfigurationError("must be an integer >= 0 or null", field="retry_after_s")
        if self.rate_limit_rps is not None and (
            not isinstance(self.rate_limit_rps, (int, float)) or self.rate_limit_rps <= 0
        ):
            raise ConfigurationError("must be a number > 0 or null", field="rate_limit_rps")
        if self.rate_limit_burst < 1:
            raise ConfigurationError("must be >= 1", field="rate_limit_burst")
        if self.rate_limit_headers is not None and (
            self.rate_limit_headers not in RATE_LIMIT_HEADER_STYLES
        ):
            raise ConfigurationError(
                f"must be one of {', '.join(RATE_LIMIT_HEADER_STYLES)}, or null (no headers)",
                field="rate_limit_headers",
            )
        offset = self.clock_offset_s
        if (
            not isinstance(offset, (int, float))
            or isinstance(offset, bool)
            or not -1e9 < offset < 1e9
        ):
            raise ConfigurationError(
                "must be a finite number of seconds (the vendor clock's lead over the host's)",
                field="clock_offset_s",
            )
        ready_s = self.report_ready_after_s
        if (
            not isinstance(ready_s, (int, float))
            or isinstance(ready_s, bool)
            or not 0 <= ready_s < float("inf")
        ):
            raise ConfigurationError(
                "must be a number of seconds >= 0", field="report_ready_after_s"
            )
        if not isinstance(self.token_lifetime_s, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and v > 0
            for k, v in self.token_lifetime_s.items()
        ):
            raise ConfigurationError(
                "must map vendor names (or '*') to lifetimes in seconds > 0",
                field="token_lifetime_s",
            )
        object.__setattr__(self, "token_lifetime_s", dict(self.token_lifetime_s))
        if self.drip_bytes < 1:
            raise ConfigurationError("must be an integer >= 1", field="drip_bytes")
        if self.reply_body is not None and not isinstance(self.reply_body, str):
            raise ConfigurationError("must be a string or null", field="reply_body")
        if (
            not isinstance(self.reply_status, int)
            or isinstance(self.reply_status, bool)
            or not 100 <= self.reply_status <= 599
        ):
            raise ConfigurationError("must be an HTTP status 100..599", field="reply_status")
        if not isinstance(self.reply_headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.reply_headers.items()
        ):
            raise ConfigurationError(
                "must map header names to string values", field="reply_headers"
            )
        object.__setattr__(self, "reply_headers", dict(self.reply_headers))

    @property
    def active(self) -> bool:
        """Whether any fault is set (the sandbox skips all fault handling otherwise)."""
        return self != Faults()

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (used by the ``/_sandbox/faults`` endpoint)."""
        out = dataclasses.asdict(self)
        out["token_lifetime_s"] = dict(self.token_lifetime_s)
        out["reply_headers"] = dict(self.reply_headers)
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: Faults | None = None) -> Faults:
        """Build faults from a mapping, on top of ``base`` (default: no faults).

        Raises:
            ConfigurationError: An unknown field or a bad value; the error names the field.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigurationError(
                    f"unknown fault; valid fields are {', '.join(sorted(known))}", field=key
                )
        return dataclasses.replace(base or cls(), **dict(data))


@dataclass(frozen=True)
class Counters:
    """What the sandbox counted since it started or was last reset.

    Attributes:
        token_requests: Requests that reached a token endpoint, per
            ``(vendor, client_id, grant)``; ``client_id`` is ``""`` when the request
            named none. Requests answered by an injected fault are not in here.
        api_requests: Requests that reached the data API, per vendor.
        rate_limited: 429 replies sent (injected or from the rate limit).
        server_errors: 5xx replies sent.
        resets: Connections reset by a fault.
        truncated: Replies truncated by a fault.
        requests: All requests except the ``/_sandbox/`` control endpoints.
        reports_created: Report jobs created.
        report_polls: Report status polls answered.
        report_downloads: Report downloads answered (each page counts).
        reports_failed: Report jobs that ended ``failed``.
    """

    token_requests: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    api_requests: Mapping[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    server_errors: int = 0
    resets: int = 0
    truncated: int = 0
    requests: int = 0
    reports_created: int = 0
    report_polls: int = 0
    report_downloads: int = 0
    reports_failed: int = 0

    def tokens(
        self, vendor: str | None = None, client_id: str | None = None, grant: str | None = None
    ) -> int:
        """Sum of token requests matching the given vendor, client id and grant."""
        return sum(
            n
            for (v, c, g), n in self.token_requests.items()
            if (vendor is None or v == vendor)
            and (client_id is None or c == client_id)
            and (grant is None or g == grant)
        )

    def api(self, vendor: str | None = None) -> int:
        """Data API requests for one vendor, or for all vendors."""
        if vendor is None:
            return sum(self.api_requests.values())
        return self.api_requests.get(vendor, 0)

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (used by the ``/_sandbox/counters`` endpoint)."""
        return {
            "token_requests": [
                {"vendor": v, "client_id": c, "grant": g, "count": n}
                for (v, c, g), n in sorted(self.token_requests.items())
            ],
            "api_requests": dict(self.api_requests),
            "rate_limited": self.rate_limited,
            "server_errors": self.server_errors,
            "resets": self.resets,
            "truncated": self.truncated,
            "requests": self.requests,
            "reports_created": self.reports_created,
            "report_polls": self.report_polls,
            "report_downloads": self.report_downloads,
            "reports_failed": self.reports_failed,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Counters:
        """Inverse of :meth:`to_mapping`."""
        return cls(
            token_requests={
                (row["vendor"], row["client_id"], row["grant"]): int(row["count"])
                for row in data.get("token_requests", [])
            },
            api_requests={str(k): int(v) for k, v in data.get("api_requests", {}).items()},
            rate_limited=int(data.get("rate_limited", 0)),
            server_errors=int(data.get("server_errors", 0)),
            resets=int(data.get("resets", 0)),
            truncated=int(data.get("truncated", 0)),
            requests=int(data.get("requests", 0)),
            reports_created=int(data.get("reports_created", 0)),
            report_polls=int(data.get("report_polls", 0)),
            report_downloads=int(data.get("report_downloads", 0)),
            reports_failed=int(data.get("reports_failed", 0)),
        )
