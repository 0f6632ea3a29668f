"""What vendorgate is doing, as small typed events: for metrics, progress and dashboards.

Two ways to listen, both cheap when nobody does (one check per event site):

- :func:`subscribe` registers a callback for every event of the process and returns a
  function that unsubscribes it;
- :func:`listen` is a context manager: the callback sees the events of the calls made
  inside the block, in this thread or task (and in the tasks and worker threads those
  calls start). A client's ``on_event=`` argument uses it for that client's calls, and
  every pull uses it to count its own retries, 429s and token requests.

Events are frozen dataclasses. They never carry a secret, a token or a full query
string: a token appears only as its :attr:`~vendorgate.tokens.Token.fingerprint`, URLs
without user info or query. A callback that raises never breaks the call that emitted
the event: the exception is logged once per callback (WARNING, ``vendorgate.events``)
and dropped. Callbacks run synchronously in the emitting thread: keep them short (hand
heavy work to a queue).

Example:
    >>> from vendorgate import events
    >>> seen = []
    >>> unsubscribe = events.subscribe(seen.append)
    >>> events.emit(events.CacheMiss(key="demo"))
    >>> unsubscribe()
    >>> [type(e).__name__ for e in seen]
    ['CacheMiss']
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "CacheHit",
    "CacheMiss",
    "Event",
    "EventCallback",
    "PageWritten",
    "PullFinished",
    "RateLimited",
    "Retried",
    "TokenFetched",
    "emit",
    "listen",
    "listening",
    "subscribe",
]

log = logging.getLogger("vendorgate.events")


@dataclass(frozen=True)
class Event:
    """Base class of every event; :attr:`name` is a stable snake_case metric name."""

    name: ClassVar[str] = "event"


@dataclass(frozen=True)
class TokenFetched(Event):
    """A token request succeeded and its token went into the cache.

    Attributes:
        key: The cache key (``TokenConfig.cache_key``: vendor, client id, no secret).
        fingerprint: Non-reversible id of the new token (safe to log).
        lifetime_s: The token's lifetime as granted, in seconds.
    """

    name: ClassVar[str] = "token_fetched"
    key: str
    fingerprint: str
    lifetime_s: float


@dataclass(frozen=True)
class CacheHit(Event):
    """A token was served from the cache without a token request.

    Attributes:
        key: The cache key.
        level: ``"memory"`` (this process) or ``"store"`` (the shared store).
    """

    name: ClassVar[str] = "cache_hit"
    key: str
    level: Literal["memory", "store"] = "memory"


@dataclass(frozen=True)
class CacheMiss(Event):
    """No usable token was cached: a token request follows.

    Attributes:
        key: The cache key.
    """

    name: ClassVar[str] = "cache_miss"
    key: str


@dataclass(frozen=True)
class Retried(Event):
    """An attempt failed and will be retried after ``wait_s``.

    Attributes:
        vendor: Preset or dialect name.
        what: What was attempted (``"GET"``, ``"token request to"``).
        url: The URL without user info or query.
        cause: Short safe words (``"status 503"``, ``"ReadTimeout"``).
        attempt: The number of the attempt that failed (1 for the first).
        wait_s: Seconds until the next attempt.
    """

    name: ClassVar[str] = "retry"
    vendor: str
    what: str
    url: str
    cause: str
    attempt: int
    wait_s: float


@dataclass(frozen=True)
class RateLimited(Event):
    """The server answered 429 (retried or not).

    Attributes:
        vendor: Preset or dialect name.
        url: The URL without user info or query.
        retry_after_s: The server's ``Retry-After`` in seconds, if it sent one.
    """

    name: ClassVar[str] = "rate_limited"
    vendor: str
    url: str
    retry_after_s: float | None = None


@dataclass(frozen=True)
class PageWritten(Event):
    """A pull wrote one page to its output and checkpointed it.

    Attributes:
        output: The output's path or URL (URLs without user info or query).
        pages: Pages written so far, over all runs of this pull.
        page_records: Records of this page.
        records: Records written so far, over all runs.
    """

    name: ClassVar[str] = "page_written"
    output: str
    pages: int
    page_records: int
    records: int


@dataclass(frozen=True)
class PullFinished(Event):
    """A pull committed its output; the same figures as its ``PullResult``.

    Attributes:
        output: The final file's path or URL (URLs without user info or query).
        pages: Pages in the output, over all runs.
        records: Records in the output, over all runs.
        resumed: Whether this run continued from a checkpoint.
        retries: Retries during this run (API calls and token requests).
        rate_limited: 429 replies during this run.
        token_requests: Successful token requests made by this run.
        elapsed_s: Duration of this run, in seconds.
    """

    name: ClassVar[str] = "pull_finished"
    output: str
    pages: int
    records: int
    resumed: bool
    retries: int
    rate_limited: int
    token_requests: int
    elapsed_s: float


#: What a listener is: called with each event, its return value ignored.
EventCallback = Callable[[Event], object]

_subscribers: tuple[Callable[[Event], object], ...] = ()
_guard = threading.Lock()
_scoped: contextvars.ContextVar[tuple[Callable[[Event], object], ...]] = contextvars.ContextVar(
    "vendorgate_event_listeners", default=()
)
_failed: set[int] = set()


def subscribe(callback: Callable[[Event], object]) -> Callable[[], None]:
    """Call ``callback`` with every event of this process until unsubscribed.

    Args:
        callback: Called with each :class:`Event`, in the thread that emits it.

    Returns:
        A function that unsubscribes ``callback`` (calling it twice is harmless).
    """
    global _subscribers
    if not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    with _guard:
        _subscribers = (*_subscribers, callback)

    def unsubscribe() -> None:
        global _subscribers
        with _guard:
            items = list(_subscribers)
            if callback in items:
                items.remove(callback)
                _subscribers = tuple(items)

    return unsubscribe


@contextmanager
def listen(callback: Callable[[Event], object] | None) -> Iterator[None]:
    """Within the block, also call ``callback`` with the events of this thread or task.

    Tasks and worker threads started inside the block (``asyncio.create_task``,
    ``asyncio.to_thread``) inherit the listener. ``None`` listens to nothing.
    """
    current = _scoped.get()
    if callback is None or callback in current:
        yield
        return
    token = _scoped.set((*current, callback))
    try:
        yield
    finally:
        _scoped.reset(token)


def listening() -> bool:
    """Whether any callback would receive an event emitted here (skip building it if not)."""
    return bool(_subscribers) or bool(_scoped.get())


def emit(event: Event) -> None:
    """Hand ``event`` to the listeners of this context, then to the subscribers.

    A callback that raises is logged once (WARNING) and otherwise ignored.
    """
    scoped = _scoped.get()
    subscribers = _subscribers
    if not scoped and not subscribers:
        return
    for callback in (*scoped, *subscribers):
        try:
            callback(event)
        except Exception as exc:
            _report(callback, exc)


def _report(callback: Callable[[Event], object], exc: Exception) -> None:
    ident = id(callback)
    if ident in _failed:
        return
    with _guard:
        if len(_failed) > 1000:
            _failed.clear()
        _failed.add(ident)
    log.warning(
        "vendorgate event callback %s raised %s; the event is dropped and the call goes on "
        "(reported once per callback)",
        getattr(callback, "__qualname__", type(callback).__name__),
        type(exc).__name__,
    )
