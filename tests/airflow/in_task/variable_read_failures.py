"""A Variable that cannot be read is an error, never "absent" (run with Task SDK comms).

Not collected by the main run (the name does not start with ``test_``):
``tests/airflow/test_variable_store.py`` runs it with pytest in a child process whose
``AIRFLOW_HOME`` holds a migrated SQLite database, with one Execution API attempt per call
(``AIRFLOW__WORKERS__EXECUTION_API_RETRIES=1``). ``airflow.sdk.Variable`` reaches that
database through Airflow's own in-process supervisor (the one ``dag.test()`` uses).

The failure is real: for the failing reads, the supervisor's Execution API client points
at a port nobody listens on, as when the api-server is down or unreachable from a worker
(connection refused). Airflow's ``Variable.get(key, default=None)`` returns the default
then, as if the Variable did not exist.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from vendorgate import CacheError
from vendorgate.airflow.cache import AirflowVariableStore
from vendorgate.airflow.state import AirflowVariableStateStore
from vendorgate.http import StateStoreError
from vendorgate.testing.cache_contract import make_token
from vendorgate.tokens import Token


@pytest.fixture(autouse=True, scope="module")
def _task_sdk_comms() -> Iterator[None]:
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, set_supervisor_comms

    with set_supervisor_comms(_comms(InProcessTestSupervisor._api_client())):
        yield


def _comms(client: object) -> object:
    import psutil
    import structlog
    from airflow.sdk.execution_time.supervisor import (
        InProcessSupervisorComms,
        InProcessTestSupervisor,
    )

    supervisor = InProcessTestSupervisor(
        id=uuid.uuid4(),
        pid=os.getpid(),
        process=psutil.Process(),
        process_log=structlog.get_logger(),
        client=client,
    )
    supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
    return supervisor.comms


@contextmanager
def _api_server_unreachable() -> Iterator[None]:
    """The task's supervisor cannot reach the Execution API (connection refused)."""
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, set_supervisor_comms

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = InProcessTestSupervisor._Client(base_url=f"http://127.0.0.1:{port}/", token="")
    try:
        with set_supervisor_comms(_comms(client)):
            yield
    finally:
        client.close()


def test_a_token_entry_that_cannot_be_read_is_an_error_not_a_miss() -> None:
    store = AirflowVariableStore()
    key = f"read-failure-{uuid.uuid4().hex}"
    store.set(key, make_token())
    with _api_server_unreachable(), pytest.raises(CacheError, match="cannot read the Airflow"):
        store.get(key)
    found = store.get(key)  # the api-server answers again: the entry is there
    assert found is not None


def test_an_absent_token_entry_is_a_miss() -> None:
    assert AirflowVariableStore().get(f"never-stored-{uuid.uuid4().hex}") is None


def test_a_mark_that_cannot_be_read_is_an_error_not_a_first_run() -> None:
    marks = AirflowVariableStateStore()
    key = f"dag.task.{uuid.uuid4().hex[:8]}"
    marks.set(key, '{"mark": 41}')
    with _api_server_unreachable(), pytest.raises(StateStoreError, match="nothing was pulled"):
        marks.get(key)
    assert marks.get(key) == '{"mark": 41}'
    assert marks.get(key + ".other") is None


def test_the_cache_tells_why_it_asks_the_vendor_when_the_store_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed read degrades the cache with a warning; it is not a silent extra token."""
    from vendorgate.cache import TokenCache

    cache = TokenCache(store=AirflowVariableStore())
    key = f"degrade-{uuid.uuid4().hex}"
    cache.store.set(key, make_token())  # type: ignore[union-attr]
    fetched: list[str] = []

    def fetch(_previous: Token | None) -> Token:
        fetched.append("x")
        return make_token()

    with caplog.at_level(logging.WARNING, logger="vendorgate.cache"), _api_server_unreachable():
        cache.get_or_fetch(key, fetch)
    assert fetched == ["x"]
    assert "backend unavailable" in caplog.text
    assert "cannot read the Airflow Variable token cache" in caplog.text


@contextmanager
def _supervisor_dead() -> Iterator[None]:
    """The task's socket to its supervisor, whose end is closed (the worker was killed)."""
    from airflow.sdk.execution_time.comms import CommsDecoder
    from airflow.sdk.execution_time.supervisor import set_supervisor_comms

    task_end, supervisor_end = socket.socketpair()
    supervisor_end.close()
    try:
        with set_supervisor_comms(CommsDecoder(socket=task_end)):
            yield
    finally:
        task_end.close()


def test_an_orphaned_task_does_not_ask_the_vendor_for_a_token() -> None:
    """A task whose worker died (its supervisor gone) stops instead of fetching a token."""
    from vendorgate.airflow._variables import SupervisorGone
    from vendorgate.cache import TokenCache

    cache = TokenCache(store=AirflowVariableStore())
    fetched: list[str] = []

    def fetch(_previous: Token | None) -> Token:
        fetched.append("x")
        return make_token()

    with _supervisor_dead(), pytest.raises(SupervisorGone, match="supervisor is gone"):
        cache.get_or_fetch(f"orphan-{uuid.uuid4().hex}", fetch)
    assert fetched == []
    with _supervisor_dead(), pytest.raises(SupervisorGone):
        AirflowVariableStateStore().get("dag.task")
