"""Output integrity: one pull per output at a time, checkpoints that belong to a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from http_helpers import provider_for

from vendorgate import OutputBusyError
from vendorgate.http import Checkpoint, Output, OutputWriter, PageNumber, PageRequest, VendorClient

pytestmark = pytest.mark.slow

PAGES = PageNumber(page_size=50)


def _client(sandbox) -> VendorClient:  # type: ignore[no-untyped-def]
    return VendorClient(provider_for(sandbox), base_url=sandbox.api_url("lonewolf"))


def _ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


class HoldFirstPage:
    """A serializer that holds the pull in thread ``holder`` at its first record."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, record: Any) -> bytes:
        if threading.current_thread().name == self.holder and not self.started.is_set():
            self.started.set()
            self.release.wait(60)
        return json.dumps(record, separators=(",", ":")).encode()


def test_second_concurrent_pull_is_refused_and_the_first_file_is_exact(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A second pull to an output a running pull holds gets OutputBusyError at once,
    fetches nothing, and the first pull's file holds every record exactly once."""
    hold = HoldFirstPage("first-pull")
    output = Output(path=tmp_path / "items.jsonl", serializer=hold)
    results: list[Any] = []

    def first() -> None:
        with _client(sandbox) as client:
            try:
                results.append(client.pull("/items", PAGES, output=output))
            except BaseException as exc:  # reported below
                results.append(exc)

    thread = threading.Thread(target=first, name="first-pull")
    thread.start()
    try:
        assert hold.started.wait(60)
        api_before = sandbox.counters().api("lonewolf")
        with _client(sandbox) as client, pytest.raises(OutputBusyError) as info:
            client.pull("/items", PAGES, output=output)
        assert sandbox.counters().api("lonewolf") == api_before
    finally:
        hold.release.set()
        thread.join(60)
    assert info.value.path == str(output.path)
    assert "another pull" in str(info.value)
    assert info.value.lock_path == str(output.lock_file)
    assert not isinstance(results[0], BaseException), results[0]
    assert results[0].records == sandbox.dataset_size
    assert _ids(Path(output.path)) == list(range(sandbox.dataset_size))


@pytest.mark.anyio
async def test_async_pull_is_refused_while_a_sync_pull_holds_the_output(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The async client's pull honours the same claim as the sync client's."""
    from vendorgate.http import AsyncVendorClient

    hold = HoldFirstPage("sync-pull")
    output = Output(path=tmp_path / "items.jsonl", serializer=hold)

    def first() -> None:
        with _client(sandbox) as client:
            client.pull("/items", PAGES, output=output)

    thread = threading.Thread(target=first, name="sync-pull")
    thread.start()
    try:
        assert hold.started.wait(60)
        async with AsyncVendorClient(
            provider_for(sandbox), base_url=sandbox.api_url("lonewolf")
        ) as client:
            with pytest.raises(OutputBusyError):
                await client.pull("/items", PAGES, output=output)
    finally:
        hold.release.set()
        thread.join(60)
    assert _ids(Path(output.path)) == list(range(sandbox.dataset_size))


_CHILD = textwrap.dedent(
    """
    import json, pathlib, sys, time
    from vendorgate.cache import TokenCache
    from vendorgate.http import Output, PageNumber, VendorClient
    from vendorgate.tokens import TokenConfig, TokenProvider

    token_url, api_url, out, started = sys.argv[1:5]

    def hold(record):
        pathlib.Path(started).touch()
        time.sleep(3600)  # killed here, holding the output

    config = TokenConfig.from_mapping({"preset": "lonewolf", "client_id": "demo-client",
        "client_secret": "env:VG_TEST_SECRET", "token_url": token_url})
    with VendorClient(TokenProvider(config, cache=TokenCache()), base_url=api_url) as client:
        client.pull("/items", PageNumber(page_size=50), output=Output(path=out, serializer=hold))
    """
)


def test_pull_in_another_process_is_refused_until_it_dies(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A pull in another process holds the output; once that process is killed, the
    claim is gone with it and the next pull writes the whole file."""
    target = tmp_path / "items.jsonl"
    started = tmp_path / "started"
    env = {
        **os.environ,
        "VG_TEST_SECRET": sandbox.demo_credentials("lonewolf")["client_secret"].reveal(),
    }
    argv = [sandbox.token_url("lonewolf"), sandbox.api_url("lonewolf"), str(target), str(started)]
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *argv], env=env)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert child.poll() is None, "the child pull ended early"
            assert time.monotonic() < deadline, "the child pull made no progress"
            time.sleep(0.02)
        with _client(sandbox) as client, pytest.raises(OutputBusyError) as info:
            client.pull("/items", PAGES, output=target)
        assert f"pid {child.pid}" in str(info.value)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
        child.wait(10)
    with _client(sandbox) as client:
        result = client.pull("/items", PAGES, output=target)
    assert _ids(target) == list(range(sandbox.dataset_size))
    assert result.records == sandbox.dataset_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.jsonl", "started"]


def _crash_after_rename(sandbox, output: Output, monkeypatch: pytest.MonkeyPatch) -> int:  # type: ignore[no-untyped-def]
    """Run a pull killed between the final rename and the checkpoint removal; return
    the data API requests counted afterwards."""
    checkpoint = output.checkpoint_file
    real_unlink = Path.unlink

    def crash(self: Path, missing_ok: bool = False) -> None:
        if self == checkpoint:
            raise KeyboardInterrupt("killed after the rename")
        real_unlink(self, missing_ok=missing_ok)

    with monkeypatch.context() as patch, _client(sandbox) as client:
        patch.setattr(Path, "unlink", crash)
        with pytest.raises(KeyboardInterrupt):
            client.pull("/items", PAGES, output=output)
    assert Path(output.path).exists()
    cp = Checkpoint.load(checkpoint)
    assert cp is not None
    assert cp.position is None
    return sandbox.counters().api("lonewolf")


def test_leftover_complete_checkpoint_does_not_stop_a_new_pull(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A "complete" checkpoint left by another run's crash does not turn a new pull into a
    no-op with stale data: the new pull fetches every record."""
    output = Output(path=tmp_path / "items.jsonl")
    requests = _crash_after_rename(sandbox, output, monkeypatch)
    with _client(sandbox) as client:
        result = client.pull("/items", PAGES, output=output)
    assert not result.resumed
    assert sandbox.counters().api("lonewolf") > requests
    assert _ids(Path(output.path)) == list(range(sandbox.dataset_size))
    assert not output.checkpoint_file.exists()


def test_leftover_complete_checkpoint_of_another_run_id_is_fetched_again(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """With run ids, only the crashed run's retry finishes its rename; another run fetches."""
    target = tmp_path / "items.jsonl"
    requests = _crash_after_rename(sandbox, Output(path=target, run_id="run-1"), monkeypatch)
    with _client(sandbox) as client:
        result = client.pull("/items", PAGES, output=Output(path=target, run_id="run-2"))
    assert not result.resumed
    assert sandbox.counters().api("lonewolf") > requests
    assert _ids(target) == list(range(sandbox.dataset_size))


def test_retry_of_the_crashed_run_only_finishes_its_rename(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The crashed run's retry (same run_id) removes the checkpoint without a request."""
    output = Output(path=tmp_path / "items.jsonl", run_id="run-1")
    requests = _crash_after_rename(sandbox, output, monkeypatch)
    with _client(sandbox) as client:
        result = client.pull("/items", PAGES, output=output)
    assert result.resumed
    assert sandbox.counters().api("lonewolf") == requests
    assert _ids(Path(output.path)) == list(range(sandbox.dataset_size))
    assert not output.checkpoint_file.exists()


def test_stale_checkpoint_temp_files_are_removed(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Checkpoint temp files a crashed run left behind are removed by the next pull."""
    output = Output(path=tmp_path / "items.jsonl")
    leftovers = [tmp_path / f".{output.checkpoint_file.name}.{pid}.tmp" for pid in (12345, 999999)]
    for leftover in leftovers:
        leftover.write_text('{"version": 2')
    with _client(sandbox) as client:
        client.pull("/items", PAGES, output=output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.jsonl"]


def test_fsspec_output_is_claimed_across_hosts(tmp_path: Path) -> None:
    """Two writers of one fsspec URL with separate staging (two hosts) cannot both hold it;
    after the first commits, the claim object is gone and the next writer proceeds."""
    fsspec = pytest.importorskip("fsspec")
    url = "memory://claims/out.jsonl"
    first_req = PageRequest("/items", {"page": 1})
    host_a = OutputWriter(Output(path=url, staging_dir=tmp_path / "a"), first_req)
    host_b = OutputWriter(Output(path=url, staging_dir=tmp_path / "b"), first_req)
    host_a.open()
    with pytest.raises(OutputBusyError) as info:
        host_b.open()
    assert info.value.lock_path.endswith(".vendorgate-claim")
    host_a.write_page([{"id": 1}], None)
    host_a.commit()
    fs = fsspec.filesystem("memory")
    assert not fs.exists("/claims/out.jsonl.vendorgate-claim")
    assert host_b.open() == first_req
    host_b.close()


def test_run_id_must_be_a_non_empty_string(tmp_path: Path) -> None:
    """An empty run id is refused with the field's name."""
    from vendorgate import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        Output(path=tmp_path / "x.jsonl", run_id="")
    assert info.value.field == "run_id"
