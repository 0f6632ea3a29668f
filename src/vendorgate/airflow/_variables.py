"""Reading an Airflow Variable so that "absent" and "could not read" stay apart.

``airflow.sdk.Variable.get(key, default=None)`` cannot tell them apart: the Task SDK's
Execution API secrets backend answers "not found" for every failure (a timeout, a busy
metadata database, an api-server error), so the caller gets its default. For the token
cache a failed read taken as a miss means a token request another worker already made;
for an incremental mark it means a pull from the start, every record again. Inside a
task, trigger or DAG parse, :func:`read_variable` therefore asks the supervisor directly
and lets its error type decide; elsewhere (a plain script, the api-server running a
connection test) ``Variable.get`` is all there is.

The direct read skips Airflow's secrets backends (environment variables, Vault, ...):
vendorgate writes these Variables with ``Variable.set``, which stores them in the
metadata database, and reads them back from there.
"""

from __future__ import annotations

from typing import Any, cast

__all__ = ["SupervisorGone", "VariableUnreadable", "read_variable"]


class VariableUnreadable(Exception):
    """The Variable could not be read; ``str()`` names the cause (never a value)."""


class SupervisorGone(RuntimeError):
    """This task's supervisor process is gone: the task is an orphan of a dead worker.

    Airflow starts each task in its own process group, so when a worker dies (killed,
    out of memory) its running tasks live on for a while without the supervisor that
    reports their state. Such a task must not go on to ask the vendor for a token (the
    retried task on another worker will find the shared one): this error is not a
    :class:`~vendorgate.CacheError`, so the token cache does not fall back to fetching.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(
            f"this task's Airflow supervisor is gone ({cause}): its worker died; stopping "
            "here instead of asking the vendor for a token (Airflow retries the task)"
        )


def read_variable(key: str) -> str | None:
    """The Variable's value, ``None`` when it does not exist.

    :raises VariableUnreadable: the Execution API or the metadata database failed.
    :raises SupervisorGone: the task's supervisor died (its worker was killed).
    """
    comms = _supervisor_comms()
    if comms is None:
        from airflow.sdk import Variable

        try:
            return cast("str | None", Variable.get(key, default=None))
        except Exception as exc:  # the metadata database is unreachable
            raise VariableUnreadable(type(exc).__name__) from None
    from airflow.sdk.exceptions import ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse, GetVariable, VariableResult

    try:
        reply = comms.send(GetVariable(key=key))
    except (EOFError, OSError) as exc:  # the socket to the supervisor is closed
        raise SupervisorGone(type(exc).__name__) from None
    except Exception as exc:  # the supervisor's call to the Execution API raised
        raise VariableUnreadable(type(exc).__name__) from None
    if isinstance(reply, VariableResult):
        return reply.value
    if isinstance(reply, ErrorResponse):
        if reply.error == ErrorType.VARIABLE_NOT_FOUND:
            return None
        raise VariableUnreadable(f"Execution API {reply.error.value}")
    raise VariableUnreadable(f"unexpected reply {type(reply).__name__}")


def _supervisor_comms() -> Any:
    """The Task SDK's channel to the supervisor, or ``None`` outside a task context."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover - an Airflow without the Task SDK
        return None
    return getattr(task_runner, "SUPERVISOR_COMMS", None)
