#!/usr/bin/env python3
"""The soak: worker processes pull pages through one shared token cache for minutes on end.

    python3 scripts/dev.py soak          # 10 min, 8 workers, 20 s tokens, 5 % API faults
    python3 scripts/dev.py soak --minutes 0.3 --workers 2
    .venv-airflow/bin/python scripts/soak.py --help

One vendor sandbox runs in its own process, issuing Lone Wolf tokens that live
``--lifetime-s`` seconds and faulting ``--fault-rate`` of the data API's requests: a 429
with ``Retry-After: 1`` or a 5xx (the two alternate, phase by phase), a connection reset
mid-body, or a JSON body cut in half. ``--workers`` worker processes share one token cache
(Redis at ``--redis-url`` under a key prefix of their own, or ``--cache file``: a
directory and ``flock``) and loop until the time is up: each builds the client the public
way (``VendorConnection`` -> ``client()`` -> ``pull()``) and pulls the whole data set to a
new JSON Lines file, one output per pull. Every ``--grow-every-s`` the data set grows.

At the end (outputs are checked while the run goes on, then deleted) it prints and
writes to ``--summary`` (JSON):

- **records**: every output compared with the data set, id by id and record by record:
  none lost, none duplicated, none altered;
- **pulls**: every pull completed (a pull that fails is resumed from its checkpoint, at
  most twice, as a user's retry would);
- **tokens**: the token requests the sandbox counted against the physical limit of the
  refresh policy (:func:`token_limits`): at most one more; and, from the workers' cache
  events, no refresh before the policy's earliest refresh moment (a second worker
  fetching while a good token is shared) and none after a token expired
  (:func:`token_timeline`);
- **memory**: each worker's RSS, sampled all along: from the window right after the
  warm-up (``--warmup-share`` of the run) to the run's last tenth, less than
  ``--max-memory-growth`` growth;
- **leaks**: no client secret or issued token in anything the run wrote (worker logs,
  pull logs, the outputs still on disk, the summary).

The exit code is 0 only when every check passed. Every process the soak starts (the
sandbox, the workers) is stopped by its PID at the end, also after Ctrl-C, SIGTERM or a
failure; the Redis keys under its prefix and its work directory are removed (the work
directory is kept when a check failed, and its path printed).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import itertools
import json
import logging
import math
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRESET = "lonewolf"
SECRET_ENV = "VENDORGATE_SOAK_CLIENT_SECRET"
#: The 5xx statuses the status phases cycle through (429 phases alternate with them).
SERVER_ERRORS = (500, 502, 503, 504)
#: Pull attempts per output: the first run and up to two resumes from its checkpoint.
PULL_RUNS = 3


# ================================================================================ worker


def worker_main(config_path: Path) -> int:
    """One worker process: pull the data set again and again until the deadline."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops us by PID
    config = json.loads(config_path.read_text())
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    from vendorgate import VendorConnection, VendorgateError, events
    from vendorgate.http import PageNumber

    fetches: list[dict[str, Any]] = []
    missed = [0.0]

    def on_event(event: events.Event) -> None:
        """Note when the cache decided to fetch and when the new token arrived."""
        if isinstance(event, events.CacheMiss):
            missed[0] = time.time()
        elif isinstance(event, events.TokenFetched):
            fetches.append({"miss": missed[0], "fetched": time.time(), "fp": event.fingerprint})

    connection = VendorConnection.from_mapping(config["connection"])
    paginator = PageNumber(page_size=config["page_size"])
    out_dir = Path(config["out_dir"])
    log_path = Path(config["pulls_log"])
    tokens_log = Path(config["tokens_log"])
    connection.client().close()  # imports and first-use set-up happen before the start
    Path(config["ready_file"]).touch()
    go_file = Path(config["go_file"])
    while not go_file.exists():
        time.sleep(0.02)
    deadline = json.loads(go_file.read_text())["deadline"]
    index = config["index"]
    n = 0
    with log_path.open("a", encoding="utf-8") as log:
        while time.time() < deadline:
            n += 1
            output = out_dir / f"w{index:02d}-{n:05d}.jsonl"
            row: dict[str, Any] = {"pull": n, "output": str(output), "start": time.time()}
            errors: list[str] = []
            result = None
            for _ in range(PULL_RUNS):
                try:
                    with connection.client(on_event=on_event) as client:
                        result = client.pull(config["path"], paginator, output=output)
                    break
                except VendorgateError as exc:  # resumed from the checkpoint below
                    errors.append(type(exc).__name__)
                    time.sleep(1.0)
            row["end"] = time.time()
            row["errors"] = errors
            row["ok"] = result is not None
            if result is not None:
                row.update(
                    records=result.records,
                    pages=result.pages,
                    resumed=result.resumed,
                    retries=result.retries,
                    rate_limited=result.rate_limited,
                    token_requests=result.token_requests,
                )
            log.write(json.dumps(row) + "\n")
            log.flush()
            if fetches:
                with tokens_log.open("a", encoding="utf-8") as f:
                    f.writelines(json.dumps(fetch) + "\n" for fetch in fetches)
                fetches.clear()
    return 0


# ================================================================================ checks


def token_limits(lifetime_s: float, duration_s: float, policy: dict[str, float]) -> dict[str, Any]:
    """The physical limit of token requests in ``duration_s`` for a refresh policy.

    With :class:`~vendorgate.cache.RefreshPolicy` a token of lifetime ``L`` is replaced
    ``margin`` seconds before it expires, minus a jitter drawn from ``[0, J]``; the first
    token is fetched at the start. One token therefore serves between ``L - margin - J``
    and ``L - margin`` seconds, and a perfect single-flight cache whose token requests
    take no time makes between ``low = floor(D / (L - margin)) + 1`` and
    ``high = floor(D / (L - margin - J)) + 1`` requests in ``D`` seconds: ``high`` is the
    physical limit. A token's lifetime counts from its reply, so each request's own
    latency stretches the cycle: on a loaded machine a run makes fewer than ``low``, never
    more than ``high`` (see :func:`token_timeline` for the per-token check).
    """
    from vendorgate.cache import RefreshPolicy
    from vendorgate.tokens import Token

    refresh = RefreshPolicy(**policy)
    token = Token("x", expires_at=lifetime_s, issued_at=0.0)
    margin = refresh.margin_s(token)
    jitter = refresh.max_jitter_for(token)
    longest = lifetime_s - margin
    shortest = longest - jitter
    return {
        "lifetime_s": lifetime_s,
        "refresh_margin_s": margin,
        "max_jitter_s": jitter,
        "served_s": [round(shortest, 3), round(longest, 3)],
        "duration_s": round(duration_s, 1),
        "low": math.floor(duration_s / longest) + 1,
        "high": math.floor(duration_s / shortest) + 1,
        "formula": "floor(D / (L - margin)) + 1 .. floor(D / (L - margin - max_jitter)) + 1",
    }


#: The vendor's clock granularity: a JWT's ``iat`` is whole seconds, and a worker that did
#: not fetch a token itself times it from ``iat`` (``Token.expires_at_for``), up to 1 s early.
IAT_GRANULARITY_S = 1.0


def token_timeline(
    fetches: list[dict[str, float]], lifetime_s: float, shortest_s: float
) -> dict[str, Any]:
    """Each refresh across the fleet, from the workers' cache events.

    ``fetches`` holds, per token fetched by any worker, ``miss`` (when its cache decided
    to fetch) and ``fetched`` (when the token arrived). The *cycle* from one decision to
    the next, anywhere in the fleet, is at least ``shortest_s`` (the policy's earliest
    refresh moment, jitter included) less ``IAT_GRANULARITY_S``; a shorter one is
    counted ``early``: a second worker fetched while a good token was in the shared
    cache, the failure a shared cache exists to prevent. ``expired`` counts successors
    that arrived more than ``lifetime_s - IAT_GRANULARITY_S`` after their predecessor was
    asked for, i.e. possibly after it expired.
    """
    rows = sorted(fetches, key=lambda f: f["miss"])
    cycles = [b["miss"] - a["miss"] for a, b in itertools.pairwise(rows)]
    latency = [f["fetched"] - f["miss"] for f in rows]
    gaps = [b["fetched"] - a["miss"] for a, b in itertools.pairwise(rows)]

    def stats(values: list[float]) -> list[float] | None:
        if not values:
            return None
        return [round(min(values), 2), round(statistics.median(values), 2), round(max(values), 2)]

    return {
        "fetches": len(rows),
        "cycle_s_min_median_max": stats(cycles),
        "request_latency_s_min_median_max": stats(latency),
        "early": sum(1 for c in cycles if c < shortest_s - IAT_GRANULARITY_S),
        "expired": sum(1 for g in gaps if g > lifetime_s - IAT_GRANULARITY_S),
    }


@dataclass
class SizeTimeline:
    """The data set's size over time (grow calls take a moment: each has a start and end)."""

    initial: int
    grows: list[tuple[float, float, int]] = field(default_factory=list)

    def at_least(self, t: float) -> int:
        """The size the data set certainly had at ``t``."""
        done = [size for _, end, size in self.grows if end <= t]
        return max(done, default=self.initial)

    def at_most(self, t: float) -> int:
        """The largest size the data set may have had at ``t``."""
        begun = [size for start, _, size in self.grows if start <= t]
        return max(begun, default=self.initial)


def check_output(path: Path, low: int, high: int, record_bytes: int) -> dict[str, int]:
    """Compare one output with the data set: ids ``0 .. N - 1``, each once, each unaltered.

    ``N``, the size the pull saw, lies between ``low`` (the size when the pull began)
    and ``high`` (the size when it ended).
    """
    from vendorgate.testing.sandbox._data import record

    ids: list[int] = []
    altered = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            ids.append(rec.get("id", -1))
            if rec != record(rec.get("id", -1), record_bytes):
                altered += 1
    counts = collections.Counter(ids)
    seen = max(counts, default=-1) + 1
    size = min(max(seen, low), high)
    return {
        "records": len(ids),
        "size": size,
        "lost": sum(1 for i in range(size) if i not in counts),
        "duplicated": sum(c - 1 for c in counts.values() if c > 1),
        "unexpected": sum(c for i, c in counts.items() if not 0 <= i < size),
        "altered": altered,
        "out_of_order": sum(1 for a, b in itertools.pairwise(ids) if b <= a),
    }


def memory_growth(
    samples: list[tuple[float, int]], start: float, duration_s: float, warmup_share: float
) -> dict[str, float] | None:
    """RSS after warm-up vs at the end: medians of two windows, each a tenth of the run.

    The first window begins when the warm-up (``warmup_share`` of the run) ends, the
    second is the run's last tenth; ``None`` when a window holds no sample.
    """
    window = duration_s / 10
    after = start + warmup_share * duration_s
    base = [rss for t, rss in samples if after <= t <= after + window]
    last = [rss for t, rss in samples if start + duration_s - window <= t]
    if not base or not last:
        return None
    baseline = statistics.median(base)
    final = statistics.median(last)
    return {
        "baseline_mb": round(baseline / 2**20, 1),
        "final_mb": round(final / 2**20, 1),
        "peak_mb": round(max(rss for _, rss in samples) / 2**20, 1),
        "growth": round(final / baseline - 1, 4),
        "samples": len(samples),
    }


# ================================================================================ parent


def fault_plan(rate: float) -> dict[str, Any]:
    """Every-N counters that fault about ``rate`` of the API requests, a third each kind.

    Three neighbouring periods (N - 1, N, N + 1) rarely coincide, so the kinds add up.
    """
    if rate <= 0:
        return {}
    n = max(3, round(3 / rate))
    return {"status_every": n - 1, "reset_every": n, "truncate_every": n + 1}


def status_phase(k: int) -> dict[str, Any]:
    """Phase ``k``'s injected status: 429 with ``Retry-After: 1`` every other phase, else a 5xx."""
    if k % 2 == 0:
        return {"status": 429, "retry_after_s": 1}
    return {"status": SERVER_ERRORS[(k // 2) % len(SERVER_ERRORS)], "retry_after_s": None}


class Soak:
    """One soak run: start everything, watch it, check it, and stop everything."""

    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.args = args
        self.argv = argv
        self.duration_s = args.minutes * 60.0
        self.run_id = uuid.uuid4().hex[:8]
        self.client_id = f"soak-{self.run_id}"
        self.secret = secrets.token_urlsafe(24)
        self.redis_prefix = f"vendorgate:soak-{self.run_id}:"
        parent = Path(args.work_dir) if args.work_dir else None
        self.run_dir = Path(tempfile.mkdtemp(prefix="vendorgate-soak-", dir=parent))
        self.out_dir = self.run_dir / "outputs"
        self.out_dir.mkdir()
        self.sandbox: Any = None
        self.procs: list[subprocess.Popen[bytes]] = []
        self.rss: list[list[tuple[float, int]]] = []
        self.sandbox_rss: list[tuple[float, int]] = []
        self.loadavg: list[float] = []
        self.sizes = SizeTimeline(args.dataset_size)
        self.rows: list[dict[str, Any]] = []
        self._log_offsets: list[int] = []
        self.records = collections.Counter[str]()
        self.bad_outputs: list[str] = []
        self.go_at = 0.0
        self.hung: list[int] = []
        self.phases = 0

    # ------------------------------------------------------------------ set-up
    def cache_options(self) -> dict[str, Any]:
        kind = self.args.cache
        if kind == "redis":
            return {"backend": "redis", "url": self.args.redis_url, "prefix": self.redis_prefix}
        if kind == "file":
            return {"backend": "file", "directory": str(self.run_dir / "token-cache")}
        return {"backend": "memory"}

    def connection(self) -> dict[str, Any]:
        """The workers' connection spec: the secret travels as an ``env:`` reference."""
        sb = self.sandbox
        return {
            "token": {
                "preset": PRESET,
                "client_id": self.client_id,
                "client_secret": f"env:{SECRET_ENV}",
                "token_url": sb.token_url(PRESET),
                "audience": sb.audience(PRESET),
            },
            "base_url": sb.api_url(PRESET),
            "cache": self.cache_options(),
        }

    def start_sandbox(self) -> None:
        from vendorgate.testing.sandbox import Faults, VendorSandbox

        self.sandbox = VendorSandbox(
            process=True,
            dataset_size=self.args.dataset_size,
            record_bytes=self.args.record_bytes,
            startup_timeout_s=120.0,  # a loaded machine starts Python slowly
        ).start()
        self.sandbox.add_client(PRESET, self.client_id, client_secret=self.secret)
        self.sandbox.set_faults(
            Faults(
                path=f"/{PRESET}/api/*",
                token_lifetime_s={PRESET: self.args.lifetime_s},
                reset_mid_body=True,
                **fault_plan(self.args.fault_rate),
                **(status_phase(0) if self.args.fault_rate > 0 else {}),
            )
        )

    def start_workers(self) -> None:
        from vendorgate.testing._process import die_with_parent_preexec

        env = dict(os.environ, **{SECRET_ENV: self.secret})
        for i in range(self.args.workers):
            config = {
                "index": i,
                "connection": self.connection(),
                "path": "/items",
                "page_size": self.args.page_size,
                "out_dir": str(self.out_dir),
                "pulls_log": str(self.run_dir / f"w{i:02d}.pulls.jsonl"),
                "tokens_log": str(self.run_dir / f"w{i:02d}.tokens.jsonl"),
                "ready_file": str(self.run_dir / f"w{i:02d}.ready"),
                "go_file": str(self.run_dir / "go"),
            }
            path = self.run_dir / f"w{i:02d}.config.json"
            path.write_text(json.dumps(config, indent=1))
            with (self.run_dir / f"w{i:02d}.log").open("wb") as log:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, str(Path(__file__).resolve()), "--worker", str(path)],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=self.run_dir,
                        preexec_fn=die_with_parent_preexec(),
                    )
                )
            self.rss.append([])
            self._log_offsets.append(0)
        deadline = time.monotonic() + 300  # imports are slow on a loaded machine
        while not all((self.run_dir / f"w{i:02d}.ready").exists() for i in range(len(self.procs))):
            dead = [p.pid for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(
                    f"worker process(es) {dead or 'all'} did not start; see the w*.log files "
                    f"in {self.run_dir}"
                )
            time.sleep(0.05)
        self.go_at = time.time()
        (self.run_dir / "go").write_text(json.dumps({"deadline": self.go_at + self.duration_s}))

    # ------------------------------------------------------------------ during the run
    def watch(self) -> None:
        import psutil

        procs = [psutil.Process(p.pid) for p in self.procs]
        sandbox = psutil.Process(self.sandbox.pid)
        sample_s = min(5.0, max(0.25, self.duration_s / 120))
        phase_s = min(15.0, max(1.0, self.duration_s / 8))
        grow_s = self.args.grow_every_s
        end = self.go_at + self.duration_s
        hang_at = end + max(120.0, self.duration_s / 5)
        next_sample = self.go_at
        next_phase = self.go_at + phase_s
        next_grow = self.go_at + grow_s if grow_s > 0 and self.args.grow_by > 0 else math.inf
        while any(p.poll() is None for p in self.procs):
            now = time.time()
            if now >= next_sample:
                next_sample += sample_s
                for i, proc in enumerate(procs):
                    if self.procs[i].poll() is not None:
                        continue  # exited (its RSS would read 0 until it is reaped)
                    with contextlib.suppress(psutil.Error):
                        self.rss[i].append((now, proc.memory_info().rss))
                with contextlib.suppress(psutil.Error):
                    self.sandbox_rss.append((now, sandbox.memory_info().rss))
                self.loadavg.append(os.getloadavg()[0])
            if now >= next_phase and now < end and self.args.fault_rate > 0:
                next_phase += phase_s
                self.phases += 1
                self.sandbox.set_faults(**status_phase(self.phases))
            if now >= next_grow and now < end:
                next_grow += grow_s
                started = time.time()
                size = self.sandbox.grow(self.args.grow_by)
                self.sizes.grows.append((started, time.time(), size))
            self.check_finished_pulls()
            if now > hang_at:
                self.hung = [p.pid for p in self.procs if p.poll() is None]
                break
            time.sleep(0.1)
        self.check_finished_pulls()

    def check_finished_pulls(self) -> None:
        """Check the outputs of the pulls the workers logged since the last call."""
        for i in range(len(self.procs)):
            path = self.run_dir / f"w{i:02d}.pulls.jsonl"
            if not path.exists():
                continue
            with path.open("rb") as f:
                f.seek(self._log_offsets[i])
                data = f.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._log_offsets[i] += len(complete)
            for line in complete.splitlines():
                row = json.loads(line)
                row["worker"] = i
                self.rows.append(row)
                self.check_pull(row)

    def check_pull(self, row: dict[str, Any]) -> None:
        self.records["pulls"] += 1
        if not row["ok"]:
            self.records["failed"] += 1
            return
        output = Path(row["output"])
        low, high = self.sizes.at_least(row["start"]), self.sizes.at_most(row["end"])
        found = check_output(output, low, high, self.args.record_bytes)
        for key, value in found.items():
            if key != "size":
                self.records[key] += value
        self.records["expected"] += found["size"]
        self.records["resumed"] += bool(row["errors"])
        if found["records"] != row["records"]:
            found["reported_by_pull"] = row["records"]
            self.records["miscounted"] += 1
        bad = any(found[k] for k in ("lost", "duplicated", "unexpected", "altered", "out_of_order"))
        if bad or found.get("reported_by_pull") is not None:
            self.bad_outputs.append(f"{output.name}: {found}")
        elif not self.args.keep_outputs:
            output.unlink()

    # ------------------------------------------------------------------ verdict
    def summary(self) -> dict[str, Any]:
        args = self.args
        starts = [r["start"] for r in self.rows]
        ends = [r["end"] for r in self.rows]
        span = (max(ends) - min(starts)) if self.rows else 0.0
        policy: dict[str, float] = {}
        limits = token_limits(float(args.lifetime_s), span, policy)
        counters = self.sandbox.counters()
        requested = counters.tokens(vendor=PRESET, client_id=self.client_id)
        by_pulls = sum(r.get("token_requests", 0) for r in self.rows)
        fetches = [
            json.loads(line)
            for path in sorted(self.run_dir.glob("w*.tokens.jsonl"))
            for line in path.read_text().splitlines()
        ]
        timeline = token_timeline(fetches, float(args.lifetime_s), limits["served_s"][0])
        tokens_ok = (
            requested <= limits["high"] + 1
            and timeline["early"] == 0
            and timeline["expired"] == 0
            and requested > 0
        )
        # faulted with a status: answered before the data API counted them
        api = counters.api(PRESET) + counters.rate_limited + counters.server_errors
        faults = {
            "api_requests": api,
            "rate_limited_429": counters.rate_limited,
            "server_errors_5xx": counters.server_errors,
            "resets_mid_body": counters.resets,
            "truncated_json": counters.truncated,
        }
        injected = sum(v for k, v in faults.items() if k != "api_requests")
        faults["share"] = round(injected / api, 4) if api else 0.0
        memory = []
        for i, samples in enumerate(self.rss):
            growth = memory_growth(samples, self.go_at, self.duration_s, args.warmup_share)
            series = [[round(t - self.go_at, 1), round(rss / 2**20, 1)] for t, rss in samples]
            memory.append({"worker": i, **(growth or {}), "rss_mb": series})
        memory_ok = all("growth" in m and m["growth"] < args.max_memory_growth for m in memory)
        sandbox_memory = memory_growth(
            self.sandbox_rss, self.go_at, self.duration_s, args.warmup_share
        )
        rec = self.records
        records_ok = (
            rec["pulls"] > 0
            and not self.bad_outputs
            and all(
                rec[k] == 0 for k in ("lost", "duplicated", "unexpected", "altered", "out_of_order")
            )
        )
        pulls_ok = rec["pulls"] > 0 and rec["failed"] == 0 and not self.hung
        exits = [p.returncode for p in self.procs]
        pulls_ok = pulls_ok and all(code == 0 for code in exits)
        leaks = self.scan_for_leaks()
        load = self.loadavg or [0.0]
        summary = {
            "command": " ".join(["python3 scripts/dev.py soak", *self.argv]),
            "started_utc": dt.datetime.fromtimestamp(self.go_at, dt.UTC).isoformat(
                timespec="seconds"
            ),
            "settings": {
                "minutes": args.minutes,
                "workers": args.workers,
                "lifetime_s": args.lifetime_s,
                "fault_rate": args.fault_rate,
                "fault_plan": fault_plan(args.fault_rate),
                "cache": args.cache,
                "dataset_size": args.dataset_size,
                "grow_by": args.grow_by,
                "grow_every_s": args.grow_every_s,
                "record_bytes": args.record_bytes,
                "page_size": args.page_size,
                "nice": args.nice,
                "refresh_policy": "RefreshPolicy() defaults",
            },
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "loadavg_1min_mean": round(statistics.mean(load), 2),
                "loadavg_1min_max": round(max(load), 2),
            },
            "run_s": round(span, 1),
            "pulls": {
                "completed": rec["pulls"] - rec["failed"],
                "failed": rec["failed"],
                "resumed": rec["resumed"],
                "per_worker": [
                    sum(1 for r in self.rows if r["worker"] == i) for i in range(len(self.procs))
                ],
                "worker_pids": [p.pid for p in self.procs],
                "worker_exit_codes": exits,
                "hung_workers": self.hung,
                "retries": sum(r.get("retries", 0) for r in self.rows),
                "pages": sum(r.get("pages", 0) for r in self.rows),
            },
            "records": {
                "checked": rec["records"],
                "expected": rec["expected"],
                "lost": rec["lost"],
                "duplicated": rec["duplicated"],
                "unexpected": rec["unexpected"],
                "altered": rec["altered"],
                "out_of_order": rec["out_of_order"],
                "dataset_size_end": self.sizes.at_most(math.inf),
                "bad_outputs": self.bad_outputs[:20],
            },
            "tokens": {"requested": requested, "by_pulls": by_pulls, **limits, **timeline},
            "faults": faults,
            "memory": {
                "workers": memory,
                "sandbox": sandbox_memory,
                "warmup_share": args.warmup_share,
                "max_growth": args.max_memory_growth,
            },
            "leaks": leaks,
            "sandbox_pid": self.sandbox.pid,
            "redis_prefix": self.redis_prefix if args.cache == "redis" else None,
            "checks": {
                "records": records_ok,
                "pulls": pulls_ok,
                "tokens": tokens_ok,
                "memory": memory_ok,
                "leaks": leaks["found"] == 0,
            },
        }
        summary["passed"] = all(summary["checks"].values())
        return summary

    def scan_for_leaks(self) -> dict[str, Any]:
        """Search what the run wrote for the client secret and every token issued to it."""
        from vendorgate.testing import LeakScanner

        scanner = LeakScanner(
            secrets={"client_secret": self.secret},
            tokens=self.sandbox.issued_tokens(PRESET, self.client_id),
        )
        scanned = 0
        store = self.run_dir / "token-cache"  # the file store holds tokens by design
        for path in sorted(self.run_dir.rglob("*")):
            if path.is_file() and store not in path.parents:
                scanned += path.stat().st_size
                scanner.scan_file(path)
        return {
            "found": len(scanner.leaks),
            "where": [str(leak) for leak in scanner.leaks[:20]],
            "bytes_scanned": scanned,
        }

    # ------------------------------------------------------------------ tear-down
    def stop(self) -> None:
        """Stop every process this run started (by PID) and remove what it left."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.args.cache == "redis":
            with contextlib.suppress(Exception):
                import redis

                client = redis.Redis.from_url(self.args.redis_url)
                keys = list(client.scan_iter(match=self.redis_prefix + "*"))
                if keys:
                    client.delete(*keys)
                client.close()


def _triple(values: list[float] | None) -> str:
    return "/".join(f"{v:g}" for v in values) if values else "-"


def render(summary: dict[str, Any]) -> str:
    """The human summary."""
    s, mark = summary, {True: "PASS", False: "FAIL"}
    checks = s["checks"]
    t, r, p, f, m = s["tokens"], s["records"], s["pulls"], s["faults"], s["memory"]
    worst = max(m["workers"], key=lambda w: w.get("growth", math.inf))
    lines = [
        f"soak {s['started_utc']}: {s['settings']['minutes']:g} min, "
        f"{s['settings']['workers']} workers, {s['settings']['lifetime_s']} s tokens, "
        f"{100 * s['settings']['fault_rate']:g} % API faults, cache {s['settings']['cache']} "
        f"(Python {s['machine']['python']}, {s['machine']['cpus']} CPUs, load average "
        f"mean {s['machine']['loadavg_1min_mean']}, max {s['machine']['loadavg_1min_max']})",
        f"  pulls    {mark[checks['pulls']]}  {p['completed']} completed, {p['failed']} failed, "
        f"{p['resumed']} resumed from a checkpoint; {p['pages']} pages, {p['retries']} retries "
        f"(per worker: {', '.join(map(str, p['per_worker']))})",
        f"  records  {mark[checks['records']]}  {r['checked']} checked against the data set "
        f"(grew to {r['dataset_size_end']}): lost {r['lost']}, duplicated {r['duplicated']}, "
        f"altered {r['altered']}, unexpected {r['unexpected']}",
        f"  tokens   {mark[checks['tokens']]}  {t['requested']} requested in {t['duration_s']} s "
        f"(sandbox count; the pulls counted {t['by_pulls']}); physical limit {t['high']} "
        f"({t['low']} with no jitter; lifetime {t['lifetime_s']:g} s, refresh margin "
        f"{t['refresh_margin_s']:g} s, jitter <= {t['max_jitter_s']:g} s): at most one more "
        "passes",
        f"           refresh cycle {_triple(t['cycle_s_min_median_max'])} s (min/median/max; "
        f"policy {t['served_s'][0]:g}..{t['served_s'][1]:g} s plus each request's "
        f"{_triple(t['request_latency_s_min_median_max'])} s); {t['early']} fetched early, "
        f"{t['expired']} possibly after expiry",
        f"  faults         {f['api_requests']} API requests: {f['rate_limited_429']} x 429, "
        f"{f['server_errors_5xx']} x 5xx, {f['resets_mid_body']} resets mid-body, "
        f"{f['truncated_json']} truncated JSON ({100 * f['share']:.2f} %)",
        f"  memory   {mark[checks['memory']]}  worker RSS after warm-up -> end: largest growth "
        f"{100 * worst.get('growth', math.nan):+.1f} % (worker {worst['worker']}: "
        f"{worst.get('baseline_mb')} -> {worst.get('final_mb')} MB); limit "
        f"{100 * m['max_growth']:g} %",
        f"  leaks    {mark[checks['leaks']]}  {s['leaks']['found']} in "
        f"{s['leaks']['bytes_scanned']} bytes the run left (logs, pull logs, configs)",
    ]
    for where in s["leaks"]["where"] + r["bad_outputs"]:
        lines.append(f"    {where}")
    failed = [name for name, ok in checks.items() if not ok]
    lines.append("PASSED" if s["passed"] else f"FAILED: {', '.join(failed)}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dev.py soak",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--minutes", type=float, default=10.0, help="how long the workers pull")
    add("--workers", type=int, default=8, help="worker processes")
    add("--lifetime-s", type=int, default=20, help="token lifetime the sandbox issues")
    add("--fault-rate", type=float, default=0.05, help="share of API requests faulted")
    add(
        "--cache",
        choices=("redis", "file", "memory"),
        default="redis",
        help="shared token cache (memory: per process, a baseline that fails the token check)",
    )
    add("--redis-url", default="redis://127.0.0.1:6379/0", help="Redis for --cache redis")
    add("--dataset-size", type=int, default=2000, help="records at the start")
    add("--grow-by", type=int, default=20, help="records added every --grow-every-s")
    add("--grow-every-s", type=float, default=30.0, help="0: the data set does not grow")
    add("--record-bytes", type=int, default=200, help="approximate JSON size of one record")
    add("--page-size", type=int, default=100, help="records per page")
    add("--warmup-share", type=float, default=0.2, help="share of the run before RSS counts")
    add("--max-memory-growth", type=float, default=0.10, help="allowed RSS growth after warm-up")
    add("--nice", type=int, default=10, help="niceness of every process (shared machines)")
    add("--summary", default="soak-summary.json", help="where the JSON summary goes")
    add("--work-dir", default=None, help="parent of the run directory (default: temp)")
    add("--keep-outputs", action="store_true", help="keep checked outputs and the run dir")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.workers < 1 or args.lifetime_s < 1:
        parser.error("--minutes must be > 0, --workers >= 1, --lifetime-s >= 1")
    if not 0 <= args.fault_rate < 0.5:
        parser.error("--fault-rate must be in [0, 0.5)")
    return args


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        return worker_main(Path(argv[1]))
    args = parse_args(argv)
    if args.nice:
        os.nice(args.nice)  # inherited by the sandbox and the workers

    stop_requested: list[int] = []

    def stop_on_signal(signum: int, frame: object) -> None:
        stop_requested.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    soak = Soak(args, argv)
    summary: dict[str, Any] | None = None
    interrupted = False
    try:
        if args.cache == "redis":
            import redis

            redis.Redis.from_url(args.redis_url, socket_timeout=2).ping()
        soak.start_sandbox()
        soak.start_workers()
        print(
            f"soak: {args.workers} workers for {args.minutes:g} min (until "
            f"{dt.datetime.fromtimestamp(soak.go_at + soak.duration_s, dt.UTC):%H:%M:%S} UTC); "
            f"run directory {soak.run_dir}",
            flush=True,
        )
        soak.watch()
        summary = soak.summary()
    except KeyboardInterrupt:
        interrupted = True
        print("soak: interrupted; stopping every process it started", file=sys.stderr)
    except Exception:
        # Ctrl-C reaches the whole process group: the sandbox may die of it before this
        # process's own KeyboardInterrupt is raised, so a call to it fails first
        if not stop_requested:
            raise
        interrupted = True
        print("soak: interrupted; stopping every process it started", file=sys.stderr)
    finally:
        # a second Ctrl-C or TERM must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        soak.stop()
        failed = summary is not None and not summary["passed"]
        crashed = summary is None and not interrupted
        if args.keep_outputs or failed or crashed:
            print(f"soak: run directory kept: {soak.run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(soak.run_dir, ignore_errors=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted or summary is None:
        return 130
    Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n")
    print(render(summary))
    print(f"summary: {Path(args.summary).resolve()}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
