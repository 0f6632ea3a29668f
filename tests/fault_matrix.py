"""The fault matrix's row recorder, shared by every environment that runs matrix rows.

A test marked ``@pytest.mark.scenario(name, expect=...)`` is one row of the table in
docs/reliability.md: its pytest result is recorded here, its *measured* outcome is set
by the test's own fixture (:func:`record_measured`), and at the end of the session the
rows are written as JSON to ``$VENDORGATE_RELIABILITY_JSON`` when that is set
(``scripts/reliability.py`` sets it, once per environment, and merges the files).

Registered for the whole test tree by ``tests/conftest.py`` (``pytest_plugins``): the
core rows (tests/reliability, Airflow environment) and the Prefect rows
(tests/prefect, Prefect environment) are recorded the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Where ``scripts/reliability.py`` wants the measured outcomes (JSON), when set.
REPORT_ENV = "VENDORGATE_RELIABILITY_JSON"

_ROWS: dict[str, dict[str, Any]] = {}


def record_measured(nodeid: str, measured: str) -> None:
    """Set the *measured* cell of the row of test ``nodeid`` (if it is a scenario)."""
    if nodeid in _ROWS:
        _ROWS[nodeid]["measured"] = measured


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scenario(name, expect): one row of the fault matrix in docs/reliability.md"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return
    row = _ROWS.setdefault(
        item.nodeid,
        {
            "scenario": marker.args[0],
            "expect": marker.kwargs.get("expect", ""),
            "measured": "",
            "result": "",
            "reason": "",
        },
    )
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        if hasattr(report, "wasxfail"):
            row["result"] = "xfail (known defect)" if report.skipped else "XPASS"
            xfail = item.get_closest_marker("xfail")
            row["reason"] = str(xfail.kwargs.get("reason", "")) if xfail else ""
        else:
            row["result"] = report.outcome
    if report.when == "teardown" and report.outcome == "failed":
        row["result"] = "failed (teardown: leak scan)"


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(REPORT_ENV)
    if target and _ROWS:
        Path(target).write_text(json.dumps(list(_ROWS.values()), indent=2) + "\n")
