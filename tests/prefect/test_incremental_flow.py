"""Incremental pulls in Prefect: the example flow's scheduled runs against a growing data set,
a run killed between its commit and its mark, the async task, the Variable store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _prefect_helpers import load_flow_example

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vendorgate.testing import OpenBaoServer

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

KEY = "incremental-items/extract-vendor-data/items"


def _ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


@pytest.fixture
def growing() -> Iterator[Any]:
    """A sandbox of its own (40 records) that the test grows between runs."""
    from vendorgate.testing import VendorSandbox

    with VendorSandbox(dataset_size=40) as sb:
        yield sb


@pytest.fixture
def marks(prefect_harness: None) -> Iterator[list[str]]:
    """Keys whose mark Variables are removed before and after the test."""
    from prefect.variables import Variable

    from vendorgate.prefect import PrefectVariableStateStore

    keys: list[str] = []
    store = PrefectVariableStateStore()
    yield keys
    for key in keys:
        Variable.unset(store.variable_name(key), _sync=True)


def _forget(keys: list[str], *new: str) -> None:
    from prefect.variables import Variable

    from vendorgate.prefect import PrefectVariableStateStore

    store = PrefectVariableStateStore()
    for key in new:
        keys.append(key)
        Variable.unset(store.variable_name(key), _sync=True)


def _state(key: str) -> Any:
    from vendorgate.prefect import PrefectVariableStateStore

    raw = PrefectVariableStateStore().get(key)
    return None if raw is None else json.loads(raw)


def _crash_once(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """The mark write after the commit raises once: the run dies between commit and state."""
    from vendorgate.prefect import PrefectVariableStateStore

    original = PrefectVariableStateStore.set
    armed = {"on": True}

    def set_or_crash(self: PrefectVariableStateStore, key: str, value: str) -> None:
        if armed["on"] and '"pending"' not in value:
            armed["on"] = False
            raise RuntimeError("simulated kill between the output commit and the mark write")
        original(self, key, value)

    monkeypatch.setattr(PrefectVariableStateStore, "set", set_or_crash)
    return armed


@pytest.mark.timeout(900)
def test_scheduled_runs_fetch_only_new_records_and_a_killed_run_loses_and_repeats_none(
    marks: list[str],
    growing: Any,
    openbao: OpenBaoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three runs fetch only what is new; a run killed after its commit, rerun or followed
    by the next run, leaves every record in exactly one output."""
    _forget(marks, KEY)
    blocks = load_flow_example("_sandbox_blocks")
    block = blocks.save_blocks("lonewolf", growing, openbao, name="test-incremental")
    flow = load_flow_example("vendorgate_incremental_flow").incremental_items

    def run(day: str) -> dict[str, Any]:
        result: dict[str, Any] = flow(api_block=block, output_dir=str(tmp_path), run_date=day)
        return result

    def ids(day: str) -> list[int]:
        return _ids(tmp_path / f"items-{day}.jsonl")

    first = run("20260101")
    assert (first["since"], first["mark"], first["records"]) == (None, 39, 40)
    growing.grow(15)
    assert run("20260102")["records"] == 15
    growing.grow(5)
    assert run("20260103")["records"] == 5
    assert ids("20260102") == list(range(40, 55))
    assert ids("20260103") == list(range(55, 60))
    assert _state(KEY) == {"mark": 59}

    # killed between the commit and the mark write, then the same date again
    growing.grow(7)
    armed = _crash_once(monkeypatch)
    with pytest.raises(RuntimeError, match="simulated kill"):
        run("20260104")
    assert not armed["on"]
    assert ids("20260104") == list(range(60, 67))  # committed
    state = _state(KEY)
    assert state["mark"] == 59
    assert state["pending"]["mark"] == 66
    again = run("20260104")
    assert (again["since"], again["mark"], again["records"]) == (59, 66, 7)
    assert ids("20260104") == list(range(60, 67))  # replaced, not doubled
    assert _state(KEY) == {"mark": 66}

    # killed again, and the next scheduled run comes instead of a rerun
    growing.grow(4)
    _crash_once(monkeypatch)
    with pytest.raises(RuntimeError, match="simulated kill"):
        run("20260105")
    growing.grow(2)
    assert run("20260106")["since"] == 70
    assert ids("20260106") == [71, 72]
    assert _state(KEY) == {"mark": 72}

    every = [i for d in range(1, 7) for i in ids(f"2026010{d}")]
    assert sorted(every) == list(range(73))  # each record exactly once


@pytest.mark.timeout(600)
def test_async_task_pulls_incrementally_with_an_explicit_key(
    marks: list[str], growing: Any, openbao: OpenBaoServer, tmp_path: Path
) -> None:
    """The async extract task takes the same option; an explicit key names the Variable."""
    import asyncio

    from prefect import flow

    from vendorgate.prefect import aextract_vendor_data

    _forget(marks, "acme.items")
    blocks = load_flow_example("_sandbox_blocks")
    block = blocks.save_blocks("lonewolf", growing, openbao, name="test-incremental-async")

    @flow(name="incremental-async")
    async def pull(day: str) -> dict[str, Any]:
        result: dict[str, Any] = await aextract_vendor_data(
            block,
            "/items",
            output=str(tmp_path / f"a-{day}.jsonl"),
            paginator={"type": "page_number", "page_size": 15, "records_path": "items"},
            incremental={"field": "id", "param": "since_id", "key": "acme.items"},
            concurrency=2,
        )
        return result

    assert asyncio.run(pull("1"))["records"] == 40
    growing.grow(9)
    second = asyncio.run(pull("2"))
    assert (second["since"], second["mark"], second["records"]) == (39, 48, 9)
    assert _ids(tmp_path / "a-2.jsonl") == list(range(40, 49))
    assert _state("acme.items") == {"mark": 48}


def test_variable_store_round_trips_state_as_a_json_object(marks: list[str]) -> None:
    """The state is readable in the UI as JSON; plain text round-trips too."""
    from prefect.variables import Variable

    from vendorgate.prefect import PrefectVariableStateStore

    _forget(marks, "store.json", "store.text")
    store = PrefectVariableStateStore()
    assert store.get("store.json") is None
    store.set("store.json", '{"mark": 7}')
    assert Variable.get(store.variable_name("store.json"), _sync=True) == {"mark": 7}
    assert json.loads(store.get("store.json") or "") == {"mark": 7}
    store.set("store.text", "not json")
    assert store.get("store.text") == "not json"


def test_variable_names_are_valid_and_distinct() -> None:
    """Any key maps to a legal Prefect Variable name; keys with the same slug stay apart."""
    from vendorgate import ConfigurationError
    from vendorgate.prefect import PrefectVariableStateStore

    store = PrefectVariableStateStore()
    a, b = store.variable_name("Acme/Items"), store.variable_name("acme.items")
    assert a != b
    long = store.variable_name("x" * 1000)
    for name in (a, b, long):
        assert len(name) <= 255
        assert all(c.isdigit() or c in "-_" or "a" <= c <= "z" for c in name)
    with pytest.raises(ConfigurationError, match="prefix"):
        PrefectVariableStateStore(prefix="Vendorgate Mark")


def test_task_refuses_an_unknown_incremental_key(
    marks: list[str], growing: Any, openbao: OpenBaoServer, tmp_path: Path
) -> None:
    """A typo in the option fails before anything is pulled, naming the known keys."""
    from prefect import flow

    from vendorgate import ConfigurationError
    from vendorgate.prefect import extract_vendor_data

    blocks = load_flow_example("_sandbox_blocks")
    block = blocks.save_blocks("lonewolf", growing, openbao, name="test-incremental-typo")

    @flow(name="incremental-typo")
    def pull() -> Any:
        return extract_vendor_data(
            block,
            "/items",
            output=str(tmp_path / "typo.jsonl"),
            incremental={"field": "id", "param": "since_id", "feild": "x"},
        )

    with pytest.raises(ConfigurationError, match="feild"):
        pull()
    assert not (tmp_path / "typo.jsonl").exists()
