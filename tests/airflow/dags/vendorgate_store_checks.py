"""A DAG whose task checks the Airflow-Variable token store from inside a real task.

Variables are only writable from a task (or a trigger): this DAG runs the store's contract
through ``airflow.sdk.Variable`` as a task would, and fails the run on any broken rule.
Run by ``tests/airflow/test_variable_store.py`` with ``dag.test()``.
"""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def vendorgate_store_checks() -> None:
    @task
    def contract() -> list[str]:
        from airflow.sdk import Variable

        from vendorgate.airflow.cache import AirflowVariableStore
        from vendorgate.tokens import Token

        store = AirflowVariableStore()
        key = "vendorgate:token:lonewolf:contract-check"
        now = time.time()
        first = Token("first-access-token-value", expires_at=now + 3600, issued_at=now)
        second = Token("second-access-token-value", expires_at=now + 3600, issued_at=now)
        passed = []

        assert store.get(key) is None, "an absent entry is a miss"
        passed.append("absent is a miss")
        store.set(key, first)
        assert store.get(key) == first, "a stored token reads back equal"
        passed.append("set then get")
        store.set(key, second)
        assert store.get(key) == second, "a write replaces the entry"
        assert not store.delete_if(key, first.fingerprint), "delete_if compares"
        assert store.get(key) == second, "a stale delete_if keeps the newer token"
        passed.append("delete_if keeps a newer token")
        assert store.delete_if(key, second.fingerprint), "delete_if deletes its own token"
        assert store.get(key) is None, "deleted"
        passed.append("delete_if deletes")
        Variable.set(store.variable_key(key), "{not json")
        assert store.get(key) is None, "a corrupt entry is a miss"
        passed.append("corrupt is a miss")
        Variable.delete(store.variable_key(key))
        assert "token" in store.variable_key(key), "Airflow masks the value by this key"
        passed.append("masked key")
        return passed

    contract()


vendorgate_store_checks()

if __name__ == "__main__":
    run = vendorgate_store_checks().test()
    raise SystemExit(0 if run is not None and run.state == "success" else 1)
