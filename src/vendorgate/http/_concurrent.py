"""Fetching planned pages concurrently, emitting them in source order.

When a strategy can list the remaining pages up front (page number or offset/limit with a
total), the async client fetches up to ``width`` of them at once and emits each page as
soon as every page before it is out; memory stays bounded by ``2 * width + 1`` pages.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from vendorgate.http._pagination import Page

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
    from typing import Any

    from vendorgate.http._pagination import PageRequest

__all__ = ["concurrent_pages"]


async def concurrent_pages(
    one: Callable[[PageRequest], Awaitable[list[Any]]], plan: Sequence[PageRequest], width: int
) -> AsyncGenerator[Page, None]:
    """Fetch every request of ``plan`` with ``one`` (its records), ``width`` at a time;
    yield the pages in order.

    ``width`` fetches stay in flight whenever possible: a fetch that finishes while an
    earlier page is still out starts the next one at once (no head-of-line stall), and
    at most ``2 * width`` pages wait behind the one awaited, fetched or fetching.

    The fetches run in ``width`` worker tasks, each taking the next planned page as soon
    as its last one is in (the shape of a plain worker pool: one task per worker, not one
    per page, and each request enters the connection pool the moment a connection came
    free, instead of several at once on the next loop turn).

    Each yielded page's ``next`` is the following planned request (``None`` for the
    last). Closing the generator cancels the fetches still running.
    """
    loop = asyncio.get_running_loop()
    total = len(plan)
    held = 2 * width
    results: dict[int, asyncio.Future[list[Any]]] = {}  # launched or awaited, not emitted
    requests: dict[int, PageRequest] = {}  # the requests of the launched pages, until emitted
    launched = 0
    awaited = 0  # pages the consumer has taken (or is waiting for)
    room = asyncio.Event()  # set when the consumer takes a page: more may be launched

    def result_of(index: int) -> asyncio.Future[list[Any]]:
        result = results.get(index)
        if result is None:
            result = results[index] = loop.create_future()
        return result

    async def worker() -> None:
        nonlocal launched
        while launched < total:
            if launched - awaited >= held:
                room.clear()
                await room.wait()
                continue
            index = launched
            launched += 1
            result = result_of(index)
            request = requests[index] = plan[index]  # built once: the page before names it
            try:
                records = await one(request)
            except asyncio.CancelledError:
                result.cancel()
                raise
            except BaseException as exc:  # handed to the consumer, in order
                result.set_exception(exc)
            else:
                result.set_result(records)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(width, total))]
    try:
        emitted = 0
        while emitted < total:
            result = result_of(emitted)
            awaited = emitted + 1
            room.set()
            records = await result
            del results[emitted]  # the page is the consumer's now
            request = requests.pop(emitted)
            emitted += 1
            following = None
            if emitted < total:
                following = requests.get(emitted) or plan[emitted]
            yield Page(request, records, following)
    finally:
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(BaseException):
                await task
        for result in results.values():
            if result.done() and not result.cancelled():
                result.exception()  # retrieved: no "never retrieved" warning
