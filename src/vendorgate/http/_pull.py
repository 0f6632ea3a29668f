"""Resumable pulls: every record of every page into one output, checkpointed per page.

The client walks the pages; this module drives the :class:`OutputWriter` around the walk
(open or resume, write page by page, commit atomically, close on failure). The async
pull runs the file I/O in a worker thread so the event loop keeps serving requests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vendorgate.http._output import Output, OutputWriter, as_output

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncGenerator, Callable, Iterator, Mapping

    import httpx

    from vendorgate.http._pagination import Page, PageRequest, Paginator

__all__ = ["PullResult", "apull", "open_writer", "pull"]


@dataclass(frozen=True)
class PullResult:
    """What a :meth:`VendorClient.pull` wrote.

    Attributes:
        output: The final file's path or URL.
        records: Records in the final file (including those of a resumed earlier run).
        pages: Pages fetched, over all runs.
        resumed: Whether this run continued from a checkpoint.
    """

    output: str
    records: int
    pages: int
    resumed: bool


def open_writer(
    paginator: Paginator,
    url: str,
    params: Mapping[str, Any] | None,
    output: Output | str | os.PathLike[str],
    absolute: Callable[[str], httpx.URL],
) -> OutputWriter:
    """The writer of one pull (not opened yet); ``absolute`` resolves the first URL."""
    first = paginator.first(url, params)
    return OutputWriter(
        as_output(output), first, base_url=str(absolute(first.url)), paginator=paginator
    )


def _result(writer: OutputWriter, final: str) -> PullResult:
    return PullResult(final, writer.records, writer.pages, writer.resumed)


def pull(writer: OutputWriter, pages_from: Callable[[PageRequest], Iterator[Page]]) -> PullResult:
    """Run one pull: resume or start, write every page ``pages_from(start)`` yields, commit."""
    start = writer.open()
    try:
        if start is not None:
            for page in pages_from(start):
                writer.write_page(page.records, page.next)
        final = writer.commit()
    except BaseException:
        writer.close()
        raise
    return _result(writer, final)


async def apull(
    writer: OutputWriter, pages_from: Callable[[PageRequest], AsyncGenerator[Page, None]]
) -> PullResult:
    """Async :func:`pull`: file I/O (write, flush, fsync, rename, upload) in a thread."""
    start = await asyncio.to_thread(writer.open)
    try:
        if start is not None:
            pages = pages_from(start)
            try:
                async for page in pages:
                    await asyncio.to_thread(writer.write_page, page.records, page.next)
            finally:
                await pages.aclose()
        final = await asyncio.to_thread(writer.commit)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(writer.close))
        raise
    return _result(writer, final)
