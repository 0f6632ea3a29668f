"""Fault matrix, clocks: one worker 5 minutes ahead and one 5 minutes behind share a token
cache (Redis, files) with a correct worker; a private_key_jwt client on a worker 5 minutes
ahead or behind.

Each skewed worker is a separate process whose ``time.time`` (and ``time.time_ns``) is
shifted by a ``sitecustomize`` module put first on its ``PYTHONPATH``: the test process and
the sandbox keep the host's clock (the vendor's clock is the correct one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import REDIS, read_ids, redis_available

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(120)]

SKEW_S = 300.0
OFFSETS = (-SKEW_S, 0.0, SKEW_S)
#: A token lifetime shorter than the skew: a worker 5 minutes ahead sees every token
#: fetched by a correct worker as expired, one 5 minutes behind sees it valid 5 minutes
#: too long, unless the cache judges expiry by the vendor's clock. Long enough that no
#: refresh is due during the pulls (the refresh policy replaces it after 205 s), so every
#: token request beyond the first is the skew's doing.
LIFETIME_S = 240
PAGE_SIZE = 50
API_LATENCY_MS = 20

# Shifts this process's wall clock before anything else is imported.
_SITECUSTOMIZE = textwrap.dedent(
    """
    import os
    import time

    _offset = float(os.environ.get("VENDORGATE_TEST_CLOCK_OFFSET_S") or 0.0)
    if _offset:
        _time, _time_ns = time.time, time.time_ns
        time.time = lambda: _time() + _offset
        time.time_ns = lambda: _time_ns() + int(_offset * 1e9)
    """
)

# A worker: builds the connection from its JSON form (secrets from the environment), waits
# for the start file, pulls the data set, prints what it measured as JSON.
_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from vendorgate import VendorConnection, VendorgateError
    from vendorgate.http import PageNumber
    spec, output, start = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    PAGE_SIZE = int(sys.argv[4])
    while not os.path.exists(start):
        time.sleep(0.01)
    report = {"clock": time.time()}
    try:
        conn = VendorConnection.from_mapping(spec)
        with conn.client() as client:
            result = client.pull("/items", PageNumber(page_size=PAGE_SIZE), output=output)
        report.update(records=result.records, pages=result.pages,
                      token_requests=result.token_requests, retries=result.retries)
    except VendorgateError as exc:
        report.update(error=type(exc).__name__, status=getattr(exc, "status", None),
                      message=str(exc))
    print(json.dumps(report))
    """
)


def _skewed_env(run, offset: float, secrets: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    site = run.tmp_path / "skewed-clock"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        **secrets,
        "PYTHONPATH": path,
        "VENDORGATE_TEST_CLOCK_OFFSET_S": str(offset),
    }


def _run_workers(
    run,  # type: ignore[no-untyped-def]
    specs: list[dict[str, Any]],
    offsets: tuple[float, ...],
    secrets: dict[str, str],
) -> list[dict[str, Any]]:
    """Start one worker per offset (same moment), wait for all; return their reports."""
    start = run.tmp_path / "start"
    children: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
    try:
        for n, (spec, offset) in enumerate(zip(specs, offsets, strict=True)):
            out = run.tmp_path / f"items-{n}.jsonl"
            log = run.tmp_path / f"worker-{n}.log"
            with log.open("wb") as fh:
                child = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        _WORKER,
                        json.dumps(spec),
                        str(out),
                        str(start),
                        str(PAGE_SIZE),
                    ],
                    env=_skewed_env(run, offset, secrets),
                    stdout=subprocess.PIPE,
                    stderr=fh,
                )
            children.append((child, out, log))
        time.sleep(0.5)  # every interpreter up and waiting
        run.restart_clock()
        start.touch()
        reports = []
        for child, out, log in children:
            stdout, _ = child.communicate(timeout=90)
            assert child.returncode == 0, log.read_text()[-3000:]
            report = json.loads(stdout.decode().strip().splitlines()[-1])
            report["output"] = out
            reports.append(report)
        return reports
    finally:
        for child, _, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait(10)


def _secret_spec(run, cache: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "token": {
            "preset": "lonewolf",
            "client_id": run.client_id,
            "client_secret": "env:RELIAB_CLIENT_SECRET",
            "token_url": run.sandbox.token_url("lonewolf"),
            "audience": run.sandbox.audience("lonewolf"),
            "timeout_s": 5,
        },
        "base_url": run.sandbox.api_url("lonewolf"),
        "cache": cache,
        "retry": {"attempts": 6, "timeout_s": 30, "wait_initial_s": 0.05, "wait_max_s": 2.0},
        "timeout_s": 5.0,
    }


def _shared_cache_run(run, cache: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """Three workers (-5 min, correct, +5 min) pull everything through one shared cache."""
    run.sandbox.set_faults(
        path="/lonewolf/api/*", latency_ms=API_LATENCY_MS, token_lifetime_s={"lonewolf": LIFETIME_S}
    )
    api_before = run.sandbox.counters().api_requests.get("lonewolf", 0)
    reports = _run_workers(
        run,
        [_secret_spec(run, cache)] * 3,
        OFFSETS,
        {"RELIAB_CLIENT_SECRET": run.client_secret.reveal()},
    )
    total = run.sandbox.dataset_size
    pages = sum(report["pages"] for report in reports)
    for report, offset in zip(reports, OFFSETS, strict=True):
        assert "error" not in report, report
        assert read_ids(report["output"]) == list(range(total)), offset  # none lost, none twice
    # The children's clocks really were shifted (within the seconds their start took).
    skews = [report["clock"] - reports[1]["clock"] for report in reports]
    assert abs(skews[0] + SKEW_S) < 5, skews
    assert abs(skews[2] - SKEW_S) < 5, skews
    api_requests = run.sandbox.counters().api_requests.get("lonewolf", 0) - api_before
    tokens = run.tokens_requested()
    # No 401 storm: every API request was a page (no page was refused and asked again).
    assert api_requests == pages, (api_requests, pages)
    # Bound: one token for the run (it lasts longer than the pulls), plus at most one per
    # skewed worker (a token fetched by another clock, read before this worker learnt its
    # offset to the vendor, can look expired to it): at most one per worker clock.
    assert 1 <= tokens <= 1 + 2, tokens
    per_worker = ", ".join(
        f"{offset:+.0f} s: {report['token_requests']}"
        for report, offset in zip(reports, OFFSETS, strict=True)
    )
    run.succeeded(
        3 * total,
        f"3 workers, {api_requests} API requests for {pages} pages (no 401), token "
        f"lifetime {LIFETIME_S} s; token requests by worker clock {per_worker}",
    )


@pytest.mark.skipif(not redis_available(), reason="no Redis at 127.0.0.1:6379")
@pytest.mark.scenario(
    "clock skew: workers -5 min, 0, +5 min share a Redis cache (token lifetime 240 s)",
    expect="success, every record once per worker, no 401, <= 3 token requests",
)
def test_clock_skew_redis_cache(run) -> None:  # type: ignore[no-untyped-def]
    """Workers 5 minutes off share a Redis token cache without 401s or a refresh storm."""
    import redis

    prefix = f"reliab:matrixaf:{run.client_id}:"
    try:
        _shared_cache_run(
            run,
            {
                "backend": "redis",
                "url": "redis://127.0.0.1:6379/0",
                "prefix": prefix,
                "socket_timeout_s": 1.0,
            },
        )
    finally:
        server = redis.Redis(*REDIS)
        for key in server.scan_iter(f"{prefix}*"):
            server.delete(key)


@pytest.mark.scenario(
    "clock skew: workers -5 min, 0, +5 min share a file cache (token lifetime 240 s)",
    expect="success, every record once per worker, no 401, <= 3 token requests",
)
def test_clock_skew_file_cache(run) -> None:  # type: ignore[no-untyped-def]
    """Workers 5 minutes off share a file token cache without 401s or a refresh storm.

    The cache directory holds the tokens by design (like the Redis keys): it lives outside
    the scenario's directory, which the leak scan reads, and is removed afterwards.
    """
    cache_dir = tempfile.mkdtemp(prefix="vendorgate-matrixaf-cache-")
    try:
        _shared_cache_run(run, {"backend": "file", "directory": cache_dir})
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def _jwt_spec(run) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    preset = "oauth2-private-key-jwt"
    creds = run.sandbox.demo_credentials(preset)
    return {
        "token": {
            "preset": preset,
            "client_id": creds["jwt_client_id"],
            "private_key": "env:RELIAB_PRIVATE_KEY",
            "token_url": run.sandbox.token_url(preset),
            "audience": run.sandbox.audience(preset),
            "timeout_s": 5,
        },
        "base_url": run.sandbox.api_url(preset),
        "cache": {"backend": "memory"},
        "retry": {"attempts": 6, "timeout_s": 30, "wait_initial_s": 0.05, "wait_max_s": 2.0},
        "timeout_s": 5.0,
    }


@pytest.mark.scenario(
    "clock skew: private_key_jwt client on a worker 5 min ahead (and one 5 min behind)",
    expect=(
        "ahead: TokenRequestError 401 invalid_client naming the clock (the vendor allows "
        "30 s of iat skew), no API request; behind: success"
    ),
)
def test_clock_skew_private_key_jwt(run) -> None:  # type: ignore[no-untyped-def]
    """An assertion signed 5 minutes in the future is refused by the vendor's iat check.

    The vendor (the sandbox, like most) judges ``iat`` by its own clock with 30 s of
    tolerance, so a worker 5 minutes ahead is refused with a 401 that names the clock;
    one 5 minutes behind signs ``exp = iat + 300 s`` = the vendor's now, still accepted.
    """
    pem = run.sandbox.demo_private_key_pem
    run.scanner.add(secrets={"private_key": pem})
    client_id = run.sandbox.demo_credentials("oauth2-private-key-jwt")["jwt_client_id"]
    api_before = run.sandbox.counters().api_requests.get("oauth2", 0)
    tokens_before = run.sandbox.counters().tokens(client_id=client_id)
    spec = _jwt_spec(run)
    behind, ahead = _run_workers(
        run, [spec, spec], (-SKEW_S, SKEW_S), {"RELIAB_PRIVATE_KEY": pem.reveal()}
    )
    assert "error" not in behind, behind
    assert read_ids(behind["output"]) == list(range(run.sandbox.dataset_size))
    assert ahead.get("error") == "TokenRequestError", ahead
    assert ahead["status"] == 401
    assert "clock" in ahead["message"], ahead["message"]
    assert "in the future" in ahead["message"], ahead["message"]  # the vendor's own reason
    assert not ahead["output"].exists()
    tokens = run.sandbox.counters().tokens(client_id=client_id) - tokens_before
    # The behind worker's one token; the refused assertion is counted too (it reached the
    # endpoint), once per attempt: a 401 is not retried.
    assert tokens <= 3, tokens
    api_requests = run.sandbox.counters().api_requests.get("oauth2", 0) - api_before
    assert api_requests == behind["pages"], api_requests
    run.measured = (
        f"ahead: TokenRequestError (401) after {run.elapsed_s():.1f} s, "
        f"{'names' if 'clock' in ahead['message'] else 'does not name'} the clock; "
        f"behind: success, {behind['records']} records; {tokens} token request(s) in all"
    )
    run.errors.append(RuntimeError(ahead["message"]))  # its text is leak-scanned too
