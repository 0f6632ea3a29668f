"""``VendorPollTrigger``: wait in the triggerer until a vendor endpoint says "ready".

The trigger runs on the async client with the connection's token provider, so the token
comes from the same shared cache the tasks use. ``serialize()`` holds plain values only:
the connection id, the endpoint, its parameters, the check and the timing; never a
secret or a token. The event carries a small value picked from the ready reply
(``result_path``), never the whole reply.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

__all__ = ["VendorPollTrigger"]


class VendorPollTrigger(BaseTrigger):
    """Poll ``GET endpoint`` until the reply passes ``response_check``.

    :param vendorgate_conn_id: The ``vendorgate`` connection.
    :param endpoint: Path below the connection's API base URL.
    :param response_check: ``{"path": "status", "equals": "ready", "fail_on": ["failed"]}``.
    :param params: Query parameters.
    :param result_path: Dotted path of the value the event carries (``None``: no value).
    :param poll_interval_s: Seconds between polls.
    :param timeout_s: Give up after this many seconds (``None``: the task's own timeout).
    """

    def __init__(
        self,
        *,
        vendorgate_conn_id: str,
        endpoint: str,
        response_check: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        result_path: str | None = None,
        poll_interval_s: float = 30.0,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        from vendorgate.airflow._check import ResponseCheck

        self.vendorgate_conn_id = vendorgate_conn_id
        self.endpoint = endpoint
        self.check = ResponseCheck.from_mapping(response_check)
        self.params = dict(params) if params else None
        self.result_path = result_path
        self.poll_interval_s = float(poll_interval_s)
        self.timeout_s = None if timeout_s is None else float(timeout_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and plain keyword values (no secret, no token)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "vendorgate_conn_id": self.vendorgate_conn_id,
                "endpoint": self.endpoint,
                "response_check": self.check.to_mapping(),
                "params": self.params,
                "result_path": self.result_path,
                "poll_interval_s": self.poll_interval_s,
                "timeout_s": self.timeout_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until ready, failed or timed out; yield exactly one event."""
        from vendorgate._secret import redact_text
        from vendorgate.airflow._check import dig
        from vendorgate.airflow.hooks import VendorGateHook

        started = time.monotonic()
        polls = 0
        try:
            hook = VendorGateHook(vendorgate_conn_id=self.vendorgate_conn_id)
            async with await hook.aget_conn() as client:
                while True:
                    polls += 1
                    body = await client.get_json(self.endpoint, params=self.params)
                    if self.check.failed(body):
                        yield TriggerEvent(  # type: ignore[no-untyped-call]
                            {
                                "status": "failed",
                                "message": f"{self.endpoint}: {self.check.path} is "
                                f"{dig(body, self.check.path)!r}",
                                "polls": polls,
                            }
                        )
                        return
                    if self.check.ready(body):
                        yield TriggerEvent(  # type: ignore[no-untyped-call]
                            {
                                "status": "success",
                                "result": dig(body, self.result_path) if self.result_path else None,
                                "polls": polls,
                            }
                        )
                        return
                    waited = time.monotonic() - started
                    if self.timeout_s is not None and waited >= self.timeout_s:
                        yield TriggerEvent(  # type: ignore[no-untyped-call]
                            {
                                "status": "timeout",
                                "message": f"{self.endpoint} not ready after {waited:.0f} s",
                                "polls": polls,
                            }
                        )
                        return
                    await asyncio.sleep(self.poll_interval_s)
        except Exception as exc:
            yield TriggerEvent(  # type: ignore[no-untyped-call]
                {
                    "status": "error",
                    "message": redact_text(f"{type(exc).__name__}: {exc}", limit=1000),
                    "polls": polls,
                }
            )
