"""``VendorSensor``: wait until a vendor endpoint's reply passes a check.

Usable in ``poke``/``reschedule`` mode (each poke is one GET) or deferrable (the wait runs
in the triggerer as a :class:`~vendorgate.airflow.triggers.VendorPollTrigger`, freeing
the worker slot).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from vendorgate._errors import VendorgateError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from airflow.sdk import Context

__all__ = ["VendorSensor", "VendorWaitError"]


class VendorWaitError(VendorgateError):
    """The awaited vendor resource failed, timed out, or could not be polled."""


class VendorSensor(BaseSensorOperator):
    """Wait until ``GET endpoint`` answers with a reply that passes ``response_check``.

    :param endpoint: Path below the connection's API base URL.
    :param response_check: A mapping such as ``{"path": "status", "equals": "ready",
        "fail_on": ["failed"]}`` (works in every mode), or a callable taking the JSON reply
        and returning a bool (poke and reschedule modes only: a trigger carries plain data).
    :param query_params: Query parameters (``params`` is BaseOperator's own: the
        DAG parameters for templates).
    :param result_path: Dotted path of the value returned to XCom when ready (``None``:
        nothing); keep it small (an id, a link), never a whole reply.
    :param vendorgate_conn_id: The ``vendorgate`` connection.
    :param deferrable: Wait in the triggerer (default: ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("endpoint", "query_params")
    template_fields_renderers = {"query_params": "json"}
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        endpoint: str,
        response_check: Mapping[str, Any] | Callable[[Any], bool],
        query_params: Mapping[str, Any] | None = None,
        result_path: str | None = None,
        vendorgate_conn_id: str = "vendorgate_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if deferrable and callable(response_check):
            raise TypeError(
                "response_check: a deferrable VendorSensor needs a mapping such as "
                '{"path": "status", "equals": "ready"}: a trigger cannot carry a function'
            )
        self.endpoint = endpoint
        self.response_check = response_check
        self.query_params = query_params
        self.result_path = result_path
        self.vendorgate_conn_id = vendorgate_conn_id
        self.deferrable = deferrable

    def execute(self, context: Context) -> Any:
        """Defer to the trigger (deferrable), or poke as a normal sensor."""
        if not self.deferrable:
            return super().execute(context)
        from vendorgate.airflow.triggers import VendorPollTrigger

        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        self.defer(
            trigger=VendorPollTrigger(
                vendorgate_conn_id=self.vendorgate_conn_id,
                endpoint=self.endpoint,
                response_check=self.response_check,  # type: ignore[arg-type]
                params=self.query_params,
                result_path=self.result_path,
                poll_interval_s=float(self.poke_interval)
                if isinstance(self.poke_interval, (int, float))
                else 30.0,
                timeout_s=timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout) if timeout else None,
        )

    def poke(self, context: Context) -> PokeReturnValue:
        """One GET; done when the check passes."""
        from vendorgate.airflow._check import ResponseCheck, dig
        from vendorgate.airflow.hooks import VendorGateHook

        hook = VendorGateHook(vendorgate_conn_id=self.vendorgate_conn_id)
        with hook.get_conn() as client:
            body = client.get_json(self.endpoint, params=self.query_params)
        if callable(self.response_check):
            done = bool(self.response_check(body))
        else:
            check = ResponseCheck.from_mapping(self.response_check)
            if check.failed(body):
                raise VendorWaitError(f"{self.endpoint}: {check.path} is {dig(body, check.path)!r}")
            done = check.ready(body)
        value = dig(body, self.result_path) if done and self.result_path else None
        return PokeReturnValue(is_done=done, xcom_value=value)

    def execute_complete(self, context: Context, event: Mapping[str, Any]) -> Any:
        """Resume after the trigger: return the result, or fail with the trigger's reason."""
        if event.get("status") == "success":
            self.log.info("%s ready after %s polls", self.endpoint, event.get("polls"))
            return event.get("result")
        raise VendorWaitError(
            f"waiting for {self.endpoint} ended with {event.get('status')}: {event.get('message')}"
        )
