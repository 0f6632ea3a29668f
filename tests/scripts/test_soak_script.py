"""scripts/soak.py: the soak's checks can fail, and a short soak passes them and cleans up."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOAK_PY = ROOT / "scripts" / "soak.py"
REDIS_URL = os.environ.get("VENDORGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendorgate_soak_script", SOAK_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _write_output(path: Path, ids: list[int], record_bytes: int = 50) -> Path:
    from vendorgate.testing.sandbox._data import record

    path.write_text("".join(json.dumps(record(i, record_bytes)) + "\n" for i in ids))
    return path


# ------------------------------------------------------------------ the checks, unit by unit


def test_complete_output_is_clean(soak: ModuleType, tmp_path: Path) -> None:
    """An output holding ids 0..N-1 once each, unaltered, counts nothing against the run."""
    found = soak.check_output(_write_output(tmp_path / "o.jsonl", list(range(10))), 10, 10, 50)
    assert found == {
        "records": 10,
        "size": 10,
        "lost": 0,
        "duplicated": 0,
        "unexpected": 0,
        "altered": 0,
        "out_of_order": 0,
    }


def test_lost_duplicated_and_altered_records_are_counted(soak: ModuleType, tmp_path: Path) -> None:
    """A gap, a repeat and a changed record each show up in the records check."""
    path = _write_output(tmp_path / "o.jsonl", [0, 1, 2, 2, 4, 5])
    lines = path.read_text().splitlines()
    changed = json.loads(lines[0])
    changed["value"] = -1
    lines[0] = json.dumps(changed)
    path.write_text("\n".join(lines) + "\n")
    found = soak.check_output(path, 6, 6, 50)
    assert (found["lost"], found["duplicated"], found["altered"]) == (1, 1, 1)


def test_output_short_of_the_size_at_pull_start_lost_records(
    soak: ModuleType, tmp_path: Path
) -> None:
    """A pull that stops before the data set's size when it began has lost the tail."""
    found = soak.check_output(_write_output(tmp_path / "o.jsonl", list(range(8))), 10, 12, 50)
    assert found["lost"] == 2


def test_growth_during_a_pull_is_neither_lost_nor_unexpected(
    soak: ModuleType, tmp_path: Path
) -> None:
    """Records added while a pull ran may be in its output or not; ids beyond are unexpected."""
    grown = soak.check_output(_write_output(tmp_path / "a.jsonl", list(range(12))), 10, 12, 50)
    assert (grown["lost"], grown["unexpected"]) == (0, 0)
    beyond = soak.check_output(_write_output(tmp_path / "b.jsonl", list(range(13))), 10, 12, 50)
    assert beyond["unexpected"] == 1


def test_size_timeline_bounds(soak: ModuleType) -> None:
    """A grow call in flight counts for the upper bound only."""
    sizes = soak.SizeTimeline(100, [(10.0, 11.0, 120)])
    assert (sizes.at_least(10.5), sizes.at_most(10.5)) == (100, 120)
    assert (sizes.at_least(11.0), sizes.at_most(9.0)) == (120, 100)


def test_token_limits_follow_the_refresh_policy(soak: ModuleType) -> None:
    """20 s tokens under the default policy serve 9.6..10 s: 61..63 requests in 600 s."""
    limits = soak.token_limits(20.0, 600.0, {})
    assert limits["refresh_margin_s"] == 10.0
    assert limits["max_jitter_s"] == pytest.approx(0.4)
    assert (limits["low"], limits["high"]) == (61, 63)


def test_token_timeline_flags_an_early_second_fetch(soak: ModuleType) -> None:
    """Two workers fetching for the same refresh show as a refresh cycle far too short."""
    fetches = [
        {"miss": 0.0, "fetched": 0.1},
        {"miss": 9.8, "fetched": 9.9},  # the due refresh
        {"miss": 10.0, "fetched": 10.1},  # a second worker did not see it: early
    ]
    timeline = soak.token_timeline(fetches, 20.0, 9.6)
    assert (timeline["fetches"], timeline["early"], timeline["expired"]) == (3, 1, 0)
    assert timeline["cycle_s_min_median_max"][0] == pytest.approx(0.2)


def test_token_timeline_accepts_a_refresh_timed_from_a_whole_second_iat(
    soak: ModuleType,
) -> None:
    """A worker timing the token from the vendor's whole-second iat refreshes up to 1 s early."""
    fetches = [{"miss": 0.0, "fetched": 0.9}, {"miss": 8.7, "fetched": 8.8}]
    assert soak.token_timeline(fetches, 20.0, 9.6)["early"] == 0


def test_token_timeline_flags_a_token_replaced_after_expiry(soak: ModuleType) -> None:
    """A successor that arrives after the token's lifetime counts as expired."""
    fetches = [{"miss": 0.0, "fetched": 0.1}, {"miss": 18.5, "fetched": 19.2}]
    timeline = soak.token_timeline(fetches, 20.0, 9.6)
    assert (timeline["early"], timeline["expired"]) == (0, 1)


def test_fault_plan_adds_up_to_the_rate(soak: ModuleType) -> None:
    """The three periodic kinds together fault about the requested share."""
    plan = soak.fault_plan(0.05)
    assert sum(1 / n for n in plan.values()) == pytest.approx(0.05, rel=0.01)
    assert soak.fault_plan(0) == {}


def test_status_phases_alternate_429_and_5xx(soak: ModuleType) -> None:
    """Even phases are 429 with Retry-After; odd ones cycle through the 5xx statuses."""
    phases = [soak.status_phase(k) for k in range(8)]
    assert all(p == {"status": 429, "retry_after_s": 1} for p in phases[::2])
    assert [p["status"] for p in phases[1::2]] == [500, 502, 503, 504]


def test_memory_growth_compares_after_warmup_with_the_end(soak: ModuleType) -> None:
    """Warm-up allocations do not count; steady growth after it does."""
    flat = [(t, 200 if t < 20 else 100) for t in range(100)]
    assert soak.memory_growth(flat, 0.0, 100.0, 0.2)["growth"] == 0.0
    leaking = [(t, 100 + t) for t in range(100)]
    assert soak.memory_growth(leaking, 0.0, 100.0, 0.2)["growth"] > 0.5


# ------------------------------------------------------------------ the command, end to end


def _run_soak(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SOAK_PY),
            "--redis-url",
            REDIS_URL,
            "--summary",
            str(summary),
            "--work-dir",
            str(tmp_path),
            "--nice",
            "0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert summary.exists(), proc.stdout + proc.stderr
    return proc, json.loads(summary.read_text())


def _redis_keys(prefix: str) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return list(client.scan_iter(match=prefix + "*"))
    finally:
        client.close()


def _assert_cleaned_up(tmp_path: Path, summary: dict) -> None:
    pids = [*summary["pulls"]["worker_pids"], summary["sandbox_pid"]]
    assert not [pid for pid in pids if psutil.pid_exists(pid)]
    assert not list(tmp_path.glob("vendorgate-soak-*"))
    if summary["redis_prefix"]:
        assert _redis_keys(summary["redis_prefix"]) == []


@pytest.mark.slow
@pytest.mark.parametrize("cache", ["redis", "file"])
def test_short_soak_passes_and_cleans_up(tmp_path: Path, cache: str) -> None:
    """Two workers, faults, growth, 20 s tokens: every check passes; nothing is left behind."""
    proc, summary = _run_soak(
        tmp_path,
        "--minutes",
        "0.5",
        "--warmup-share",
        "0.5",  # a worker's RSS settles after its first ten or so pulls
        "--workers",
        "2",
        "--fault-rate",
        "0.1",
        "--grow-every-s",
        "4",
        "--cache",
        cache,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary["passed"] is True
    assert all(summary["checks"].values()), summary["checks"]
    assert summary["records"]["checked"] > 0
    assert summary["records"]["dataset_size_end"] > summary["settings"]["dataset_size"]
    faults = summary["faults"]
    assert faults["resets_mid_body"] > 0
    assert faults["truncated_json"] > 0
    assert faults["rate_limited_429"] + faults["server_errors_5xx"] > 0
    assert summary["tokens"]["requested"] >= 1
    assert "PASSED" in proc.stdout
    _assert_cleaned_up(tmp_path, summary)


@pytest.mark.slow
def test_per_process_cache_fails_the_token_check(tmp_path: Path) -> None:
    """Workers that each keep their own token exceed the limit: exit code 1, check named."""
    proc, summary = _run_soak(
        tmp_path, "--minutes", "0.25", "--workers", "2", "--fault-rate", "0", "--cache", "memory"
    )
    assert proc.returncode == 1
    assert summary["checks"]["tokens"] is False
    assert summary["tokens"]["requested"] > summary["tokens"]["high"] + 1
    assert "FAILED: tokens" in proc.stdout
    assert not [pid for pid in summary["pulls"]["worker_pids"] if psutil.pid_exists(pid)]


@pytest.mark.slow
def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group) mid-run stops the sandbox and every worker,
    exits 130 and removes the Redis keys and the run directory."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SOAK_PY),
            "--minutes",
            "5",
            "--workers",
            "2",
            "--redis-url",
            REDIS_URL,
            "--summary",
            str(tmp_path / "summary.json"),
            "--work-dir",
            str(tmp_path),
            "--nice",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 120
        # a pull completed (the log is opened before the first pull): a token is shared
        while not [
            p for p in tmp_path.glob("vendorgate-soak-*/w*.pulls.jsonl") if p.stat().st_size
        ]:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the soak's workers never started pulling"
            time.sleep(0.2)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3  # the sandbox and two workers
        config = json.loads(next(tmp_path.glob("vendorgate-soak-*/w00.config.json")).read_text())
        prefix = config["connection"]["cache"]["prefix"]
        assert _redis_keys(prefix)  # the shared token is there while the soak runs
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
    assert _redis_keys(prefix) == []
    assert not list(tmp_path.glob("vendorgate-soak-*"))
    assert not (tmp_path / "summary.json").exists()
