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

    from vendorgate.http import Paginator

__all__ = ["DEFAULT_MAX_XCOM_BYTES", "VendorApiOperator", "VendorExtractOperator", "XComSizeError"]

#: Default XCom size guard of :class:`VendorApiOperator` (64 KiB).
DEFAULT_MAX_XCOM_BYTES = 64 * 1024
_CONN = "vendorgate_default"


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
    """

    template_fields: Sequence[str] = ("endpoint", "query_params", "output_path", "wait_for")
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
        **kwargs: Any,
    ) -> None:
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
        return self._pull()

    def execute_complete(self, context: Context, event: Mapping[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: pull when ready, fail with the trigger's reason otherwise."""
        if event.get("status") != "success":
            from vendorgate.airflow.sensors import VendorWaitError

            raise VendorWaitError(
                f"waiting for {self.wait_for and self.wait_for['endpoint']} ended with "
                f"{event.get('status')}: {event.get('message')}"
            )
        self.log.info("ready after %s polls; pulling", event.get("polls"))
        return self._pull()

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

    def _pull(self) -> dict[str, Any]:
        """Run (or resume) the pull; return ``{"output", "records", "pages", "resumed"}``."""
        from vendorgate.airflow.hooks import VendorGateHook
        from vendorgate.http import Paginator, paginator_from_mapping

        paginator = (
            self.paginator
            if isinstance(self.paginator, Paginator)
            else paginator_from_mapping(self.paginator, field="paginator")
        )
        hook = VendorGateHook(vendorgate_conn_id=self.vendorgate_conn_id)
        target, upload = self._target()
        with hook.get_conn() as client:
            result = client.pull(self.endpoint, paginator, output=target, params=self.query_params)
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
        return {
            "output": str(final),
            "records": result.records,
            "pages": result.pages,
            "resumed": result.resumed,
        }

    def _target(self) -> tuple[Any, Any]:
        """The core output, and the ObjectStoragePath to upload to (remote paths)."""
        from vendorgate.http import Output

        out: Any = self.output_path
        protocol = getattr(out, "protocol", None)
        if protocol is None:
            return Output(path=os.fspath(out), staging_dir=self.staging_dir), None
        if protocol in ("", "file", "local"):
            return Output(path=str(getattr(out, "path", out))), None
        import hashlib
        import tempfile

        digest = hashlib.sha256(str(out).encode()).hexdigest()[:16]
        base = self.staging_dir or os.path.join(tempfile.gettempdir(), "vendorgate-staging")
        os.makedirs(base, exist_ok=True)
        name = str(out).rstrip("/").rsplit("/", 1)[-1] or "output"
        return Output(path=os.path.join(base, f"{digest}-{name}")), out


def _upload(local: str, target: Any) -> str:
    """Copy the finished local file to an ObjectStoragePath, then drop the local copy."""
    import shutil

    with open(local, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, length=1024 * 1024)
    os.remove(local)
    return str(target)
