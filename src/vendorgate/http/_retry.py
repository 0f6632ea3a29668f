"""The client's retries: the engine lives in the leaf module ``vendorgate._retry``.

Kept so ``vendorgate.http.RetryPolicy``, ``parse_retry_after`` and ``retry_testing`` (and
imports of this module) keep working; :func:`transport_failure` turns an httpx transport
error into the engine's retry signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate._errors import APITransportError
from vendorgate._retry import (
    DEFAULT_RETRY_METHODS,
    DEFAULT_RETRY_STATUSES,
    Retrier,
    Retry,
    RetryPolicy,
    attempt_timeout,
    parse_retry_after,
    retry_testing,
    retry_testing_active,
    testing_attempts,
    tls_advice,
    tls_problem,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "Retrier",
    "Retry",
    "RetryPolicy",
    "RetryableFailure",
    "attempt_timeout",
    "parse_retry_after",
    "retry_testing",
    "retry_testing_active",
    "testing_attempts",
    "transport_failure",
]

#: The former name of the engine's retry signal.
RetryableFailure = Retry


def transport_failure(
    exc: httpx.TransportError, *, vendor: str, method: str, url: str
) -> Retry | APITransportError:
    """Wrap an httpx transport error (connection, timeout, protocol) for the retry loop.

    A TLS verification failure (certificate, hostname) is final: the typed error itself,
    never retried.
    """
    import httpx

    name = type(exc).__name__
    problem = tls_problem(exc)
    if problem is not None:
        tls = APITransportError(
            f"{vendor}: {method} {url} failed: {tls_advice(problem)}", vendor=vendor, url=url
        )
        tls.__cause__ = exc
        return tls
    err = APITransportError(
        f"{vendor}: {method} {url} failed: {name} (check the network and the timeouts)",
        vendor=vendor,
        url=url,
    )
    err.__cause__ = exc
    never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    return Retry(err, cause=name, always=never_sent)
