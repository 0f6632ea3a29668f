"""Operators: one vendor API call (:class:`VendorApiOperator`) and a paginated pull to
storage (:class:`VendorExtractOperator`).

Every argument is keyword-only; ``endpoint``, ``query_params``, ``headers``, ``body`` and the
output path are templated. Importing this module at DAG-parse time loads Airflow's
``BaseOperator`` only: the token engine, Vault and the HTTP stack load when a task runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf

from vendorgate._errors import VendorgateError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, ObjectStoragePath

    from vendorgate.http import Incremental, Paginator

__all__ = ["DEFAULT_MAX_XCOM_BYTES", "VendorApiOperator", "VendorExtractOperator", "XComSizeError"]

#: Default XCom size guard of :class:`VendorApiOperator` (64 KiB).
DEFAULT_MAX_XCOM_BYTES = 64 * 1024
_CONN = "vendorgate_default"
#: The keys of ``incremental={...}`` (vendorgate.http._incremental.OPTION_KEYS, repeated
#: here so that a DAG file's parse does not import the HTTP package).
_OPTION_KEYS = ("field", "param", "key", "initial", "store")


class XComSizeError(VendorgateError, ValueError):
    """A result is larger than the operator's XCom size guard."""


class VendorApiOperator(BaseOperator):
    """Call a vendor API once; the JSON reply goes to XCom under a size guard.

    :param endpoint: Path below the connection's API base URL (or an absolute URL).
    :param method: HTTP method (``GET``, ``POST``, ...). Only ``GET``/``HEAD``/``PUT``/
        ``DELETE`` are retried by default.
    :param query_params: Query parameters (``params`` is BaseOperator's own: the
        DAG parameters for templates).
    :param headers: Extra request headers (never put a secret here: use the connection).
    :param body: JSON request body.
    :param vendorgate_conn_id: The ``vendorgate`` connection.
    :param max_xcom_bytes: Largest JSON reply pushed to XCom (default 64 KiB); a larger
        one fails the task naming both sizes. XCom is neither encrypted nor masked:
        anything returned is readable through the API.
    """

    template_fields: Sequence[str] = ("endpoint", "query_params", "headers", "body")
    template_fields_renderers = {"query_params": "json", "headers": "json", "body": "json"}
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        endpoint: str,
        method: str = "GET",
        query_params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        vendorgate_conn_id: str = _CONN,
        max_xcom_bytes: int = DEFAULT_MAX_XCOM_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(max_xcom_bytes, bool) or not isinstance(max_xcom_bytes, int):
            raise TypeError("max_xcom_bytes must be an integer number of bytes")
        self.endpoint = endpoint
        self.method = method.upper()
        self.query_params = query_params
        self.headers = headers
        self.body = body
        self.vendorgate_conn_id = vendorgate_conn_id
        self.max_xcom_bytes = max_xcom_bytes

    def execute(self, context: Context) -> Any:
        """Send the request; return the parsed JSON reply (``None`` for an empty one)."""
        from vendorgate.airflow.hooks import VendorGateHook

        hook = VendorGateHook(vendorgate_conn_id=self.vendorgate_conn_id)
        with hook.get_conn() as client:
            response = client.request(
                self.method,
                self.endpoint,
                params=self.query_params,
                json=self.body,
                headers=dict(self.headers) if self.headers else None,
            )
        self.log.info(
            "%s %s -> %s (%d bytes)",
            self.method,
            self.endpoint,
            response.status_code,
            len(response.content),
        )
        if not self.do_xcom_push or not response.content:
            return None
        try:
            result = response.json()
        except ValueError:
            result = response.text
        size = len(json.dumps(result, separators=(",", ":")).encode())
        if size > self.max_xcom_bytes:
            raise XComSizeError(
                f"the reply of {self.method} {self.endpoint} is {size} bytes, above the XCom "
                f"size guard max_xcom_bytes={self.max_xcom_bytes}; write it to storage with "
                "VendorExtractOperator, or raise max_xcom_bytes (XCom lives in the metadata DB)"
            )
        return result


def _output_uri(output: str | os.PathLike[str] | ObjectStoragePath) -> str | None:
    text = str(output)
    if "{{" in text or "{%" in text:
        return None  # templated: known at run time only
    if "://" in text:
        return text
    return "file://" + os.path.abspath(text)


class VendorExtractOperator(BaseOperator):
    """Pull every page of an endpoint into a JSON Lines file, atomically, with resume.

    Records are streamed page by page (memory stays bounded) to ``<output>.partial`` with
    a checkpoint after every page; a retry of the task continues from the last checkpoint
    (no duplicate, no gap), and the final file appears at once when the pull is complete.
    The output's ``run_id`` is the task instance's (DAG, DAG run, task, map index; not the
    try number), so a try killed after its file was moved into place is finished by the
    next try instead of fetching again.
    XCom gets the path and the counts, never data. The output is declared as an outlet
    :class:`~airflow.sdk.Asset` (when the path is not templated).

    :param endpoint: Path below the connection's API base URL.
    :param output_path: Local path, fsspec URL (``s3://...``) or :class:`ObjectStoragePath`;
        ``.gz`` compresses.
    :param paginator: How pages follow each other: a paginator object or a mapping such as
        ``{"type": "page_number", "page_size": 100, "records_path": "items"}``.
    :param query_params: Query parameters (``params`` is BaseOperator's own: the
        DAG parameters for templates) of the first page.
    :param vendorgate_conn_id: The ``vendorgate`` connection.
    :param staging_dir: Local directory for the partial file of a remote output.
    :param wait_for: Wait until the vendor says the data is ready before pulling:
        ``{"endpoint": "/reports/42", "response_check": {"path": "status", "equals":
        "ready", "fail_on": ["failed"]}}`` (optional ``query_params``).
    :param deferrable: Wait in the triggerer (a :class:`VendorPollTrigger`), freeing the
        worker slot (default: ``[operators] default_deferrable``); otherwise the task
        polls itself.
    :param poll_interval_s: Seconds between polls of ``wait_for``.
    :param wait_timeout_s: Give up waiting after this many seconds (``None``: no limit
        beyond the task's own ``execution_timeout``).
    :param incremental: Pull only what is new since the last *successful* run:
        ``{"field": "id", "param": "since_id"}`` reads the high-water mark from each
        record's ``field`` and sends it as the query parameter ``param`` on the next run.
        Optional keys: ``key`` (default ``<dag_id>.<task_id>``, ``.<map_index>`` when
        mapped), ``initial`` (the first run's mark; default: a full pull), ``store``
        (default: an :class:`~vendorgate.airflow.state.AirflowVariableStateStore`). An
        :class:`vendorgate.http.Incremental` is used as it is. The mark is stored only
        after the output is committed; give every run its own ``output_path`` (template
        it, e.g. ``items-{{ ds_nodash }}.jsonl``). Sets ``max_active_tis_per_dag=1``
        unless given (one run at a time per mark).
    """

    template_fields: Sequence[str] = (
        "endpoint",
        "query_params",
        "output_path",
        "wait_for",
        "incremental",
    )
    template_fields_renderers = {"query_params": "json"}
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        endpoint: str,
        output_path: str | os.PathLike[str] | ObjectStoragePath,
        paginator: Paginator | Mapping[str, Any],
        query_params: Mapping[str, Any] | None = None,
        vendorgate_conn_id: str = _CONN,
        staging_dir: str | None = None,
        wait_for: Mapping[str, Any] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval_s: float = 30.0,
        wait_timeout_s: float | None = None,
        incremental: Incremental | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if incremental is not None:
            _check_incremental(incremental, output_path)
            kwargs.setdefault("max_active_tis_per_dag", 1)
        if wait_for is not None and (
            not isinstance(wait_for, Mapping)
            or "endpoint" not in wait_for
            or "response_check" not in wait_for
        ):
            raise TypeError(
                'wait_for must be {"endpoint": ..., "response_check": {"path": ..., "equals": ...}}'
            )
        uri = _output_uri(output_path)
        if uri is not None and "outlets" not in kwargs:
            from airflow.sdk import Asset

            kwargs["outlets"] = [Asset(uri=uri)]
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.output_path = output_path
        self.paginator = paginator
        self.query_params = query_params
        self.vendorgate_conn_id = vendorgate_conn_id
        self.staging_dir = staging_dir
        self.wait_for = wait_for
        self.deferrable = deferrable
        self.poll_interval_s = poll_interval_s
        self.wait_timeout_s = wait_timeout_s
        self.incremental = incremental
        self._per_run_output = _output_uri(output_path) is None  # templated: one per run

    def execute(self, context: Context) -> dict[str, Any]:
        """Wait for ``wait_for`` (deferred or polling), then run or resume the pull."""
        if self.wait_for is not None:
            if self.deferrable:
                from vendorgate.airflow.triggers import VendorPollTrigger

                self.defer(
                    trigger=VendorPollTrigger(
                        vendorgate_conn_id=self.vendorgate_conn_id,
                        endpoint=self.wait_for["endpoint"],
                        response_check=self.wait_for["response_check"],
                        params=self.wait_for.get("query_params"),
                        poll_interval_s=self.poll_interval_s,
                        timeout_s=self.wait_timeout_s,
                    ),
                    method_name="execute_complete",
                )
            self._wait_here()
        return self._pull(context)

    def execute_complete(self, context: Context, event: Mapping[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: pull when ready, fail with the trigger's reason otherwise."""
        if event.get("status") != "success":
            from vendorgate.airflow.sensors import VendorWaitError

            raise VendorWaitError(
                f"waiting for {self.wait_for and self.wait_for['endpoint']} ended with "
                f"{event.get('status')}: {event.get('message')}"
            )
        self.log.info("ready after %s polls; pulling", event.get("polls"))
        return self._pull(context)

    def _wait_here(self) -> None:
        """Poll ``wait_for`` in this worker until ready (non-deferrable mode)."""
        import time

        from vendorgate.airflow._check import ResponseCheck, dig
        from vendorgate.airflow.hooks import VendorGateHook
        from vendorgate.airflow.sensors import VendorWaitError

        assert self.wait_for is not None
        check = ResponseCheck.from_mapping(self.wait_for["response_check"])
        started = time.monotonic()
        hook = VendorGateHook(vendorgate_conn_id=self.vendorgate_conn_id)
        with hook.get_conn() as client:
            while True:
                body = client.get_json(
                    self.wait_for["endpoint"], params=self.wait_for.get("query_params")
                )
                if check.failed(body):
                    raise VendorWaitError(
                        f"{self.wait_for['endpoint']}: {check.path} is {dig(body, check.path)!r}"
                    )
                if check.ready(body):
                    return
                waited = time.monotonic() - started
                if self.wait_timeout_s is not None and waited >= self.wait_timeout_s:
                    raise VendorWaitError(
                        f"{self.wait_for['endpoint']} not ready after {waited:.0f} s"
                    )
                time.sleep(self.poll_interval_s)

    def _incremental(self, context: Context) -> Incremental | None:
        """The pull's :class:`Incremental` (the Variable store and task key by default)."""
        if self.incremental is None:
            return None
        from vendorgate.airflow.state import AirflowVariableStateStore
        from vendorgate.http import Incremental

        ti = context["ti"]
        key = f"{ti.dag_id}.{ti.task_id}"
        map_index = getattr(ti, "map_index", -1)
        if isinstance(map_index, int) and map_index >= 0:
            key += f".{map_index}"
        spec = Incremental.from_option(self.incremental, store=AirflowVariableStateStore(), key=key)
        if not self._per_run_output:
            self.log.warning(
                "incremental pull to the fixed output %s: each run replaces the last run's "
                "file; template output_path per run (e.g. items-{{ ds_nodash }}.jsonl) so "
                "that every run's new records stay in their own file",
                self.output_path,
            )
        return spec

    def _pull(self, context: Context) -> dict[str, Any]:
        """Run (or resume) the pull; return ``{"output", "records", "pages", "resumed"}``
        (and ``"since"``/``"mark"`` for an incremental pull)."""
        from vendorgate.airflow.hooks import VendorGateHook
        from vendorgate.http import Paginator, paginator_from_mapping

        paginator = (
            self.paginator
            if isinstance(self.paginator, Paginator)
            else paginator_from_mapping(self.paginator, field="paginator")
        )
        incremental = self._incremental(context)
        hook = VendorGateHook(vendorgate_conn_id=self.vendorgate_conn_id)
        target, upload = self._target(_run_id(context))
        # the mark this run sends (a rerun of a run killed after its commit sends that
        # run's mark again and replaces its output)
        since = incremental.begin(target).start_mark if incremental else None
        with hook.get_conn() as client:
            result = client.pull(
                self.endpoint,
                paginator,
                output=target,
                params=self.query_params,
                incremental=incremental,
            )
        final = result.output
        if upload is not None:
            final = _upload(result.output, upload)
        self.log.info(
            "wrote %d records from %d pages to %s%s",
            result.records,
            result.pages,
            final,
            " (resumed from a checkpoint)" if result.resumed else "",
        )
        summary: dict[str, Any] = {
            "output": str(final),
            "records": result.records,
            "pages": result.pages,
            "resumed": result.resumed,
        }
        if incremental is not None:
            summary.update(since=since, mark=incremental.mark())
            self.log.info(
                "incremental %s: sent %s=%r, mark now %r",
                incremental.key,
                incremental.param,
                since,
                summary["mark"],
            )
        return summary

    def _target(self, run_id: str | None = None) -> tuple[Any, Any]:
        """The core output (its ``run_id`` the task instance's), and the ObjectStoragePath
        to upload to (remote paths)."""
        from vendorgate.http import Output

        out: Any = self.output_path
        protocol = getattr(out, "protocol", None)
        if protocol is None:
            return Output(path=os.fspath(out), staging_dir=self.staging_dir, run_id=run_id), None
        if protocol in ("", "file", "local"):
            return Output(path=str(getattr(out, "path", out)), run_id=run_id), None
        import hashlib
        import tempfile

        digest = hashlib.sha256(str(out).encode()).hexdigest()[:16]
        base = self.staging_dir or os.path.join(tempfile.gettempdir(), "vendorgate-staging")
        os.makedirs(base, exist_ok=True)
        name = str(out).rstrip("/").rsplit("/", 1)[-1] or "output"
        return Output(path=os.path.join(base, f"{digest}-{name}"), run_id=run_id), out


def _run_id(context: Context) -> str | None:
    """What identifies this task instance across its tries, ``airflow:<dag>/<run>/<task>``
    (``[<map index>]`` when mapped; never the try number): a retry finishes a pull its
    previous try left complete instead of fetching it again. ``None`` outside a task run."""
    ti = context.get("ti") if isinstance(context, Mapping) else None
    parts = [getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id")]
    ids = [part for part in parts if isinstance(part, str) and part]
    if len(ids) != len(parts):
        return None
    run_id = "airflow:" + "/".join(ids)  # dag and task ids hold no "/"
    map_index = getattr(ti, "map_index", None)
    if isinstance(map_index, int) and map_index >= 0:
        run_id += f"[{map_index}]"
    return run_id


def _check_incremental(incremental: Any, output_path: Any) -> None:
    """Refuse what cannot be exactly once: an unknown option, a staged ObjectStoragePath."""
    if not isinstance(incremental, Mapping) and type(incremental).__name__ != "Incremental":
        raise TypeError(
            'incremental must be a mapping such as {"field": "id", "param": "since_id"} '
            "or a vendorgate.http.Incremental"
        )
    if isinstance(incremental, Mapping):
        unknown = sorted(str(k) for k in incremental if k not in _OPTION_KEYS)
        missing = [k for k in ("field", "param") if k not in incremental]
        if unknown or missing:
            raise TypeError(
                f"incremental: unknown {unknown} / missing {missing}; known keys: "
                f"{', '.join(_OPTION_KEYS)} (field and param are required)"
            )
    if getattr(output_path, "protocol", None) not in (None, "", "file", "local"):
        raise TypeError(
            "incremental pulls to an ObjectStoragePath are not supported (its upload comes "
            "after the commit the mark relies on): pass the output as an fsspec URL string "
            "('s3://bucket/items-{{ ds_nodash }}.jsonl'), which the pull uploads as its commit"
        )


def _upload(local: str, target: Any) -> str:
    """Copy the finished local file to an ObjectStoragePath, then drop the local copy."""
    import shutil

    with open(local, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, length=1024 * 1024)
    os.remove(local)
    return str(target)
