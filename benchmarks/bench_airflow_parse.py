"""DAG parse time: the mapped example DAG with vendorgate's operators vs core operators only.

    .venv-airflow/bin/python benchmarks/bench_airflow_parse.py            # 15 rounds
    .venv-airflow/bin/python benchmarks/bench_airflow_parse.py --quick    # 5 rounds

Airflow parses every DAG file again and again (``[dag_processor] min_file_process_interval``),
each time in a fresh child of the DAG processor, which has Airflow itself imported. This
benchmark does the same: each round starts a fresh interpreter, imports what the processor
has loaded (``airflow.sdk`` and the ``DagBag``), then times ``DagBag(<one file>)``: the first
parse of the file, including every module it imports that Airflow had not loaded.

The two files define the same DAG: 24 mapped API reads, a count, an extract.

* ``dags_examples/vendorgate_mapped_pages.py``: ``VendorApiOperator.partial().expand()``
  and ``VendorExtractOperator`` (with its outlet ``Asset``);
* the same DAG written with core TaskFlow tasks only (``@task`` from ``airflow.sdk``).

Rounds alternate between the two files; the ratio of the medians is printed. Target:
at most 1.1 (exit 1 above it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "dags_examples" / "vendorgate_mapped_pages.py"
TARGET = 1.1

CORE_DAG = """
from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

OUTPUT_DIR = os.environ.get("VENDORGATE_OUTPUT_DIR", "/tmp/vendorgate-output")
PAGES = 24
PAGE_SIZE = 5


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=8,
    tags=["vendorgate", "example"],
)
def core_mapped_pages() -> None:
    @task
    def read_page(query_params: dict[str, int]) -> dict[str, Any]:
        import httpx

        return httpx.get("http://127.0.0.1/items", params=query_params).json()

    @task
    def count(replies: list[dict[str, Any]]) -> dict[str, int]:
        ids = [item["id"] for reply in replies for item in reply["items"]]
        return {"pages": len(replies), "records": len(ids), "distinct": len(set(ids))}

    @task
    def extract_all() -> dict[str, Any]:
        return {"output": f"{OUTPUT_DIR}/items.jsonl"}

    pages = read_page.expand(
        query_params=[{"page": n, "per_page": PAGE_SIZE} for n in range(1, PAGES + 1)]
    )
    count(pages) >> extract_all()


core_mapped_pages()
"""

PROBE = """
import sys, time
import airflow.sdk  # the DAG processor has these loaded before it parses a file
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
elapsed = time.perf_counter() - start
assert not bag.import_errors, bag.import_errors
assert len(bag.dags) == 1, bag.dags
print(elapsed)
"""


def _parse_s(path: Path, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    with tempfile.TemporaryDirectory(prefix="vendorgate-parse-") as tmp:
        core = Path(tmp) / "core_mapped_pages.py"
        core.write_text(CORE_DAG)
        env = dict(
            os.environ,
            AIRFLOW_HOME=tmp,
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
        )
        _parse_s(core, env)  # warm the OS page cache for both
        _parse_s(EXAMPLE, env)
        times: dict[str, list[float]] = {"vendorgate": [], "core": []}
        for _ in range(rounds):
            times["vendorgate"].append(_parse_s(EXAMPLE, env))
            times["core"].append(_parse_s(core, env))
    ours = statistics.median(times["vendorgate"])
    base = statistics.median(times["core"])
    ratio = ours / base
    print(f"DAG parse time, median of {rounds} fresh processes each:")
    print(f"  core operators only         {base * 1000:8.1f} ms")
    print(f"  vendorgate operators        {ours * 1000:8.1f} ms")
    print(f"  ratio                       {ratio:8.3f}  (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
