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

    from vendorgate.http._incremental import Incremental, IncrementalRun
    from vendorgate.http._pagination import Page, PageRequest, Paginator

__all__ = ["PullResult", "apull", "begin_incremental", "open_writer", "pull"]


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


def begin_incremental(
    incremental: Incremental | None,
    output: Output | str | os.PathLike[str],
    params: Mapping[str, Any] | None,
) -> tuple[IncrementalRun | None, Mapping[str, Any] | None]:
    """Start an incremental run for ``output``: the run and the parameters with its mark."""
    if incremental is None:
        return None, params
    run = incremental.begin(str(as_output(output).path))
    return run, run.params(params)


def _result(writer: OutputWriter, final: str) -> PullResult:
    return PullResult(final, writer.records, writer.pages, writer.resumed)


def pull(
    writer: OutputWriter,
    pages_from: Callable[[PageRequest], Iterator[Page]],
    incremental: IncrementalRun | None = None,
) -> PullResult:
    """Run one pull: resume or start, write every page ``pages_from(start)`` yields, commit.

    With ``incremental`` the mark of every record written is tracked, an intent is
    stored before the commit and the new mark after it (see ``_incremental``).
    """
    start = writer.open()
    try:
        if incremental is not None:
            incremental.resumed(writer)
        if start is not None:
            for page in pages_from(start):
                if incremental is not None:
                    incremental.see(page.records)
                writer.write_page(page.records, page.next)
        if incremental is not None:
            incremental.before_commit(writer)
        final = writer.commit()
    except BaseException:
        writer.close()
        raise
    if incremental is not None:
        incremental.after_commit()
    return _result(writer, final)


async def apull(
    writer: OutputWriter,
    pages_from: Callable[[PageRequest], AsyncGenerator[Page, None]],
    incremental: IncrementalRun | None = None,
) -> PullResult:
    """Async :func:`pull`: file I/O (write, flush, fsync, rename, upload) in a thread."""
    start = await asyncio.to_thread(writer.open)
    try:
        if incremental is not None:
            await asyncio.to_thread(incremental.resumed, writer)
        if start is not None:
            pages = pages_from(start)
            try:
                async for page in pages:
                    if incremental is not None:
                        incremental.see(page.records)
                    await asyncio.to_thread(writer.write_page, page.records, page.next)
            finally:
                await pages.aclose()
        if incremental is not None:
            await asyncio.to_thread(incremental.before_commit, writer)
        final = await asyncio.to_thread(writer.commit)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(writer.close))
        raise
    if incremental is not None:
        await asyncio.to_thread(incremental.after_commit)
    return _result(writer, final)
