"""The shipped store contract run against ``AirflowVariableStore``, with Task SDK comms.

Not collected by the main run (the name does not start with ``test_``):
``tests/airflow/test_variable_store.py`` runs it with pytest in a child process whose
``AIRFLOW_HOME`` holds a migrated database. ``airflow.sdk.Variable`` reaches that
database through Airflow's own in-process supervisor (the one ``dag.test()`` uses), so
every call goes through the Execution API as it does from a task.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vendorgate.airflow.cache import AirflowVariableStore
from vendorgate.cache import FileLock, RefreshLock, TokenStore
from vendorgate.testing.cache_contract import PairContract, StoreContract


class _OneAtATime:
    """The in-process comms answer through one queue: one request at a time, as a task's
    real comms do (the pair tests call from several threads)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._guard = threading.Lock()

    def send(self, msg: Any) -> Any:
        with self._guard:
            return self._inner.send(msg)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(autouse=True, scope="module")
def _task_sdk_comms() -> Iterator[None]:
    import psutil
    import structlog
    from airflow.sdk.execution_time.supervisor import (
        InProcessSupervisorComms,
        InProcessTestSupervisor,
        set_supervisor_comms,
    )

    supervisor = InProcessTestSupervisor(
        id=uuid.uuid4(),
        pid=os.getpid(),
        process=psutil.Process(),
        process_log=structlog.get_logger(),
        client=InProcessTestSupervisor._api_client(),
    )
    supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
    with set_supervisor_comms(_OneAtATime(supervisor.comms)):
        yield


class TestAirflowVariableStore(StoreContract):
    def make_store(self) -> TokenStore:
        return AirflowVariableStore()

    def write_corrupt(self, key: str, raw: str) -> None:
        from airflow.sdk import Variable

        Variable.set(AirflowVariableStore().variable_key(key), raw)


class TestAirflowVariableStoreWithFileLock(PairContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path / "locks"

    def make_store(self) -> TokenStore:
        return AirflowVariableStore()

    def make_lock(self) -> RefreshLock:
        return FileLock(self.directory)

    @pytest.mark.xfail(
        strict=False,
        reason="seen once with 3 fetches instead of 2 under heavy machine load, never in "
        "isolation. Suspected: the api-server answers 'not found' when its own read of the "
        "metadata database fails (SQLite here), which no client can tell from a miss",
    )
    def test_mass_invalidation_fetches_one_new_token(self) -> None:
        super().test_mass_invalidation_fetches_one_new_token()
