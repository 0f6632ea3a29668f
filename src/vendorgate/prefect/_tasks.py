"""Prefect tasks: one vendor API call, and a resumable extract of every page to a file.

Both return a path and counts only (never data, never a token), cache nothing, and do
not retry on top of the client's own retries (``retries=0``). For whole-operation
failures (a token revoked mid-extract, the retry budget of one page spent) opt in with
``task.with_options(retries=2, retry_condition_fn=retry_on_vendor_failure)``: the
extract resumes from its checkpoint, so a retry costs only the pages not yet written.

vendorgate's own log lines (token requests, retries, rate limits) go to the task run's
log in the UI (see :func:`forward_vendorgate_logs`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from vendorgate._errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    ServerError,
    TokenRequestError,
    TransportError,
    VaultUnavailableError,
)
from vendorgate.prefect._compat import run_sync

if TYPE_CHECKING:
    import os

    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun

    from vendorgate.http import Incremental, Output, Paginator
    from vendorgate.http._incremental import IncrementalRun
    from vendorgate.prefect._blocks import VendorApi

__all__ = [
    "acall_vendor_api",
    "aextract_vendor_data",
    "call_vendor_api",
    "extract_vendor_data",
    "forward_vendorgate_logs",
    "retry_on_vendor_failure",
]

_FORWARDER: logging.Handler | None = None


def forward_vendorgate_logs(level: int = logging.INFO) -> None:
    """Send the ``vendorgate`` logger's records to the current Prefect run's log.

    Idempotent. Does nothing when ``PREFECT_LOGGING_EXTRA_LOGGERS`` already includes
    ``vendorgate`` (Prefect then forwards them itself). Sets the ``vendorgate`` logger to
    ``level`` when it has no level of its own (records below it are never created).
    """
    global _FORWARDER
    from prefect.logging.handlers import APILogHandler

    logger = logging.getLogger("vendorgate")
    if logger.level == logging.NOTSET:
        logger.setLevel(level)
    if _FORWARDER is not None or any(type(h) is APILogHandler for h in logger.handlers):
        return

    class _RunLogHandler(APILogHandler):
        """Forwards a record only when it is emitted inside a flow or task run."""

        def emit(self, record: logging.LogRecord) -> None:
            from prefect.context import FlowRunContext, TaskRunContext

            if TaskRunContext.get() is None and FlowRunContext.get() is None:
                return
            super().emit(record)

    _FORWARDER = _RunLogHandler()
    logger.addHandler(_FORWARDER)


def retry_on_vendor_failure(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """A ``retry_condition_fn``: retry a whole call or extract after a vendor failure.

    Retries after a refused token (revoked mid-extract: the cache fetches a new one), a
    spent retry budget (429, 5xx, transport errors) of the API or of the token endpoint,
    and a sealed or unreachable Vault; never after a configuration error, a garbage
    token reply, a Vault permission error or any other 4xx, which a retry cannot fix.
    """
    try:
        state.result(raise_on_failure=True)
    except (AuthenticationError, RateLimitError, ServerError, TransportError):
        return True
    except TokenRequestError as exc:
        return exc.status is not None and (exc.status == 429 or exc.status >= 500)
    except VaultUnavailableError:
        return True  # sealed (or answering garbage): a later attempt may find it unsealed
    except Exception:
        return False
    return False


def _load(api: VendorApi | str) -> VendorApi:
    from vendorgate.prefect._blocks import VendorApi

    if isinstance(api, VendorApi):
        return api
    if isinstance(api, str) and api:
        loaded: VendorApi = run_sync(VendorApi.load, api)
        return loaded
    raise ConfigurationError("must be a VendorApi block or the name of one", field="api")


async def _aload(api: VendorApi | str) -> VendorApi:
    from vendorgate.prefect._blocks import VendorApi

    if isinstance(api, VendorApi):
        return api
    if isinstance(api, str) and api:
        loaded: VendorApi = await VendorApi.aload(api)
        return loaded
    raise ConfigurationError("must be a VendorApi block or the name of one", field="api")


def _run_logger() -> Any:
    from prefect import get_run_logger

    return get_run_logger()


class _Progress:
    """A progress artifact that moves with every page, and the summary table at the end."""

    def __init__(self, vendor: str, path: str, expected_records: int | None) -> None:
        self.vendor = vendor
        self.path = path
        self.expected = expected_records
        self.artifact_id: Any = None
        self.started = time.monotonic()

    def percent(self, records: int, pages: int) -> float:
        if self.expected:
            return min(99.0, 100.0 * records / self.expected)
        return round(100.0 * pages / (pages + 1), 1)  # unknown total: moves, never reaches 100

    def description(self, records: int, pages: int) -> str:
        return f"{self.vendor} {self.path}: {pages} pages, {records} records"

    def summary(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"field": k, "value": str(v)}
            for k, v in (
                ("vendor", self.vendor),
                ("path", self.path),
                ("output", result["output"]),
                ("records", result["records"]),
                ("pages", result["pages"]),
                ("resumed", result["resumed"]),
                ("seconds", result["seconds"]),
            )
        ]


def _key(name: str, text: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40]
    return f"{name}-{slug}" if slug else name


@task(
    name="extract-vendor-data",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=0,
)
def extract_vendor_data(
    api: VendorApi | str,
    path: str,
    *,
    output: str | os.PathLike[str] | Output,
    paginator: Paginator | dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    expected_records: int | None = None,
    incremental: Incremental | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pull every page of ``path`` to ``output`` (JSON Lines), resuming its checkpoint.

    Args:
        api: A :class:`~vendorgate.prefect.VendorApi` block or its saved name.
        path: The collection's path below the block's base URL.
        output: A local path or an fsspec URL (``s3://bucket/items.jsonl``).
        paginator: A paginator, ``{"type": "page_number", ...}``, or ``None`` (page
            numbers).
        params: Query parameters of the first page.
        expected_records: The collection's size, if known (drives the progress bar).
        incremental: Pull only what is new since the last *successful* run:
            ``{"field": "id", "param": "since_id"}`` reads the high-water mark from each
            record's ``field`` and sends it as ``param`` on the next run. Optional keys:
            ``key`` (default ``<flow name>/<task name><path>``), ``initial`` (the first
            run's mark; default: a full pull), ``store`` (default: a
            :class:`~vendorgate.prefect.PrefectVariableStateStore`). An
            :class:`~vendorgate.http.Incremental` is used as it is. The mark is stored
            only after the output is committed; give every run its own ``output``.

    Returns:
        ``{"output", "records", "pages", "resumed", "seconds"}``: where the file is and
        counts, and for an incremental pull ``"since"`` (the mark sent) and ``"mark"``
        (the mark stored); never records or tokens.
    """
    from prefect.artifacts import (
        create_progress_artifact,
        create_table_artifact,
        update_progress_artifact,
    )

    from vendorgate.http import OutputWriter
    from vendorgate.prefect._connection import paginator_from

    forward_vendorgate_logs()
    logger = _run_logger()
    block = _load(api)
    strategy = paginator_from(paginator)
    out = _output(output)
    run = _begin(incremental, path, out)
    if run is not None:
        params = run.params(params)
    with block.get_client() as client:
        progress = _Progress(client.vendor, path, expected_records)
        first = strategy.first(path, params)
        writer = OutputWriter(
            out,
            first,
            base_url=str(client.http.build_request("GET", first.url).url),
            paginator=strategy,
        )
        start = writer.open()
        try:
            if run is not None:
                run.resumed(writer)
            progress.artifact_id = run_sync(
                create_progress_artifact,
                progress=progress.percent(writer.records, writer.pages),
                key=_key("extract", f"{client.vendor}-{path}"),
                description=progress.description(writer.records, writer.pages),
            )
            if writer.resumed:
                logger.info("resuming %s at %d records", path, writer.records)
            if start is not None:
                for page in client.iter_pages(path, strategy, params=params, start=start):
                    if run is not None:
                        run.see(page.records)
                    writer.write_page(page.records, page.next)
                    run_sync(
                        update_progress_artifact,
                        progress.artifact_id,
                        progress.percent(writer.records, writer.pages),
                        description=progress.description(writer.records, writer.pages),
                    )
            if run is not None:
                run.before_commit(writer)
            final = writer.commit()
        except BaseException:
            writer.close()
            raise
    if run is not None:
        run.after_commit()
    result = _result(final, writer, progress, run)
    run_sync(update_progress_artifact, progress.artifact_id, 100.0)
    run_sync(
        create_table_artifact,
        progress.summary(result),
        key=_key("extract-summary", f"{progress.vendor}-{path}"),
        description=f"vendorgate extract of {progress.vendor} {path}",
    )
    logger.info("extracted %d records in %d pages to %s", writer.records, writer.pages, final)
    return result


def _output(output: str | os.PathLike[str] | Output) -> Output:
    """The task's output; its ``run_id`` is the flow run's, so a retry of the task (or of
    the flow run) finishes a checkpoint a crash left complete instead of fetching again."""
    from vendorgate.http import Output

    if isinstance(output, Output):
        return output
    from prefect.runtime import flow_run, task_run

    run = flow_run.get_id() or task_run.get_id()
    return Output(path=output, run_id=f"prefect:{run}" if run else None)


def _result(
    final: str, writer: Any, progress: _Progress, run: IncrementalRun | None = None
) -> dict[str, Any]:
    result = {
        "output": final,
        "records": writer.records,
        "pages": writer.pages,
        "resumed": writer.resumed,
        "seconds": round(time.monotonic() - progress.started, 3),
    }
    if run is not None:
        result.update(since=run.start_mark, mark=run.mark)
    return result


def _begin(
    incremental: Incremental | dict[str, Any] | None, path: str, out: Output
) -> IncrementalRun | None:
    """Start the task's incremental run (the Variable store and flow/task/path key by
    default), resolving the intent a killed run left; ``None`` for a full pull."""
    if incremental is None:
        return None
    from prefect.runtime import flow_run, task_run

    from vendorgate.http import Incremental
    from vendorgate.prefect._state import PrefectVariableStateStore

    if isinstance(incremental, Incremental):
        return incremental.begin(out)
    store = None if "store" in incremental else PrefectVariableStateStore()
    key = f"{flow_run.get_flow_name() or 'flow'}/{task_run.get_task_name() or 'task'}{path}"
    spec = Incremental.from_option(incremental, store=store, key=key)
    if spec is None:  # pragma: no cover - from_option returns None for None only
        return None
    return spec.begin(out)


@task(
    name="extract-vendor-data-async",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=0,
)
async def aextract_vendor_data(
    api: VendorApi | str,
    path: str,
    *,
    output: str | os.PathLike[str] | Output,
    paginator: Paginator | dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    expected_records: int | None = None,
    concurrency: int | None = None,
    incremental: Incremental | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Async :func:`extract_vendor_data` (pages fetched concurrently when the total is
    known and ``concurrency`` > 1)."""
    import asyncio

    from prefect.artifacts import (
        acreate_progress_artifact,
        acreate_table_artifact,
        aupdate_progress_artifact,
    )

    from vendorgate.http import OutputWriter
    from vendorgate.prefect._connection import paginator_from

    forward_vendorgate_logs()
    logger = _run_logger()
    block = await _aload(api)
    strategy = paginator_from(paginator)
    out = _output(output)
    run = await asyncio.to_thread(_begin, incremental, path, out)  # the store may be remote
    if run is not None:
        params = run.params(params)
    async with block.get_async_client() as client:
        progress = _Progress(client.vendor, path, expected_records)
        first = strategy.first(path, params)
        writer = OutputWriter(
            out,
            first,
            base_url=str(client.http.build_request("GET", first.url).url),
            paginator=strategy,
        )
        start = await asyncio.to_thread(writer.open)
        try:
            if run is not None:
                await asyncio.to_thread(run.resumed, writer)
            progress.artifact_id = await acreate_progress_artifact(
                progress=progress.percent(writer.records, writer.pages),
                key=_key("extract", f"{client.vendor}-{path}"),
                description=progress.description(writer.records, writer.pages),
            )
            if start is not None:
                pages = client.iter_pages(
                    path, strategy, params=params, start=start, concurrency=concurrency
                )
                try:
                    async for page in pages:
                        if run is not None:
                            run.see(page.records)
                        await asyncio.to_thread(writer.write_page, page.records, page.next)
                        await aupdate_progress_artifact(
                            progress.artifact_id,
                            progress.percent(writer.records, writer.pages),
                            description=progress.description(writer.records, writer.pages),
                        )
                finally:
                    await pages.aclose()
            if run is not None:
                await asyncio.to_thread(run.before_commit, writer)
            final = await asyncio.to_thread(writer.commit)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(writer.close))
            raise
    if run is not None:
        await asyncio.to_thread(run.after_commit)
    result = _result(final, writer, progress, run)
    await aupdate_progress_artifact(progress.artifact_id, 100.0)
    await acreate_table_artifact(
        progress.summary(result),
        key=_key("extract-summary", f"{progress.vendor}-{path}"),
        description=f"vendorgate extract of {progress.vendor} {path}",
    )
    logger.info("extracted %d records in %d pages to %s", writer.records, writer.pages, final)
    return result


def _write_body(body: bytes, output: str | os.PathLike[str] | None) -> str | None:
    if output is None:
        return None
    from vendorgate.http import Output

    out = Output(path=output)
    if out.is_url:
        import fsspec

        with fsspec.open(str(output), "wb") as fh:
            fh.write(body)
    else:
        from pathlib import Path

        target = Path(str(output))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        tmp.write_bytes(body)
        tmp.replace(target)
    return str(output)


@task(
    name="call-vendor-api",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=0,
)
def call_vendor_api(
    api: VendorApi | str,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    output: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Send one request (with the client's retries); write the body to ``output``.

    Returns:
        ``{"status", "bytes", "output"}``: never the body or a token.
    """
    forward_vendorgate_logs()
    block = _load(api)
    with block.get_client() as client:
        response = client.request(method, path, params=params, json=json)
    written = _write_body(response.content, output)
    _run_logger().info(
        "%s %s: HTTP %d, %d bytes",
        method.upper(),
        path,
        response.status_code,
        len(response.content),
    )
    return {"status": response.status_code, "bytes": len(response.content), "output": written}


@task(
    name="call-vendor-api-async",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=0,
)
async def acall_vendor_api(
    api: VendorApi | str,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    output: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Async :func:`call_vendor_api`."""
    import asyncio

    forward_vendorgate_logs()
    block = await _aload(api)
    async with block.get_async_client() as client:
        response = await client.request(method, path, params=params, json=json)
    written = await asyncio.to_thread(_write_body, response.content, output)
    _run_logger().info(
        "%s %s: HTTP %d, %d bytes",
        method.upper(),
        path,
        response.status_code,
        len(response.content),
    )
    return {"status": response.status_code, "bytes": len(response.content), "output": written}
