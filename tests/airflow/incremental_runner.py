"""Drive the incremental example DAG through a sequence of scheduled runs in one process.

``python incremental_runner.py DAG_FILE SANDBOX_URL STEP...`` where a step is
``run:<date>`` (one ``dag.test()`` run at that logical date), ``crash:<date>`` (the same,
but the mark write after the output commit raises once: the run dies exactly between
its commit and its state write) or ``grow:<n>`` (the sandbox's data set grows by n).
Prints one JSON line per run step: the run's state and the stored mark Variable.
(One process for every step: Airflow's start-up and DAG sync cost once.)
"""

from __future__ import annotations

import json
import runpy
import sys
import time
from typing import Any

MARK = "vendorgate_mark_vendorgate_incremental.new_items"


def _stored_state() -> Any:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(Variable).filter(Variable.key == MARK).one_or_none()
        return None if row is None else json.loads(row.val)


def main(dag_file: str, sandbox_url: str, steps: list[str]) -> None:
    import httpx
    import pendulum

    from vendorgate.airflow.state import AirflowVariableStateStore

    original = AirflowVariableStateStore.set
    crash = {"armed": False}

    def set_or_crash(self: AirflowVariableStateStore, key: str, value: str) -> None:
        if crash["armed"] and '"pending"' not in value:
            crash["armed"] = False
            raise RuntimeError("simulated kill between the output commit and the mark write")
        original(self, key, value)

    AirflowVariableStateStore.set = set_or_crash  # type: ignore[method-assign]
    dag = runpy.run_path(dag_file)["example"]
    for step in steps:
        op, _, arg = step.partition(":")
        if op == "grow":
            response = httpx.post(f"{sandbox_url}/_sandbox/grow", json={"records": int(arg)})
            response.raise_for_status()
            continue
        crash["armed"] = op == "crash"
        started = time.monotonic()
        run = dag.test(logical_date=pendulum.parse(arg))
        report = {
            "step": step,
            "state": str(run.state) if run is not None else None,
            "crashed": op == "crash" and not crash["armed"],
            "mark": _stored_state(),
            "seconds": round(time.monotonic() - started, 1),
        }
        print("STEP " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
