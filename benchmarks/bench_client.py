"""The vendor API client: throughput against plain httpx, rate-limit compliance, memory.

    .venv-airflow/bin/python benchmarks/bench_client.py            # 2,000 / 1,000 / 50,000
    .venv-airflow/bin/python benchmarks/bench_client.py --quick    # 400 / 200 / 10,000

The vendor sandbox runs in a subprocess (``VendorSandbox(process=True)``); every figure
and its baseline come from the same run. Scenarios:

1. Pull N pages (10 records each) with 50 ms of injected latency per page, then at zero
   latency (where client overhead dominates): the ``AsyncVendorClient`` at concurrency 8
   against a plain ``httpx.AsyncClient`` doing the same requests at the same concurrency
   with a fixed Authorization header (8 workers: both keep a window of 8 requests in
   flight), and the sequential ``VendorClient`` against a plain ``httpx.Client`` loop
   (at 50 ms the sequential pair pulls N/8 pages: it is latency bound). The four run
   interleaved, in a rotating order, for several rounds; medians of wall time (and of
   this process's CPU time per page) are compared. Targets: each client >= 0.95 of its
   plain httpx twin at both latencies; the async client >= 4x the sequential one at
   50 ms and faster than it at 0 ms.
   ``--only crossover`` (in the default run) puts the async client against the sequential
   one at 0, 1 and 2 ms with the CPU per page of the client process and of the sandbox
   (from ``/proc``): at 0 ms the async walk's own CPU per page bounds it, whatever the
   cores; from about 1 ms of vendor time it is ahead.
   ``--only overhead`` runs the same four page walks over ``httpx.MockTransport`` (no
   server, no sockets) and compares CPU time per page: the clients' own work.
   ``--only instructions`` counts the instructions per page of the four walks with
   ``valgrind --tool=callgrind`` (a fresh process per walk, runs of 60 and 240 pages,
   the difference over 180 pages), over ``httpx.MockTransport`` and against the sandbox
   at 0 ms (the client process only): figures that do not depend on the machine's load;
   ``--only instructions-async`` counts only the two async walks against the sandbox.
   ``--only pool`` counts, per page of the two async walks against the sandbox at 0 ms
   (a fresh process each, several runs, medians), what httpcore's connection pool does:
   passes over the pool, ``ConnectionNotAvailable`` retries (a request handed a
   connection another request took) and probes of idle connections.
2. The sandbox limits the data API to 50 requests/s (token bucket, 429 with Retry-After
   beyond it); the async client, told the vendor's limit, pulls M pages: every page,
   zero failures, total time <= 1.15 x M / 50 s. Run twice: with a bucket of 1 (the
   strictest limit: any send-time jitter below 20 ms is a 429, and the sandbox's
   Retry-After is at least 1 s, paused by every request) and with a bucket of 5.
   Then three ways of knowing the same limit (a bucket of 50: exact one-second windows),
   in one run so the ratios compare: told the limit; not told, but the sandbox describes
   it in ``RateLimit``/``RateLimit-Policy`` headers (``--headers x`` for
   ``X-RateLimit-*``, ``x-epoch`` with the reset as a Unix time); not told and no
   headers, learning from 429s only (targets: headers within 1.1 of ideal and no 429,
   429s only within 1.3).
3. Peak RSS (``ru_maxrss`` of a fresh subprocess) pulling 1,000 and K records of the same
   size to a JSON Lines file: ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

PRESET = "lonewolf"
PER_PAGE = 10


def _provider(sandbox_url: str, token_url: str, secret: str) -> Any:
    from vendorgate.cache import TokenCache
    from vendorgate.tokens import TokenConfig, TokenProvider

    config = TokenConfig.from_mapping(
        {
            "preset": PRESET,
            "client_id": "demo-client",
            "client_secret": "literal:" + secret,
            "token_url": token_url,
        }
    )
    return TokenProvider(config, cache=TokenCache())


async def _vendorgate_async(provider: Any, api_url: str, concurrency: int) -> int:
    """``AsyncVendorClient`` paging through every page; the records of each page counted
    (as the plain httpx baseline counts ``len(r.json()["items"])``)."""
    from vendorgate.http import AsyncVendorClient, PageNumber

    n = 0
    async with AsyncVendorClient(provider, base_url=api_url, concurrency=concurrency) as client:
        async for page in client.iter_pages("/items", PageNumber(page_size=PER_PAGE)):
            n += len(page.records)
    return n


async def _plain_httpx(token: str, api_url: str, pages: int, concurrency: int) -> int:
    """The baseline: a plain httpx.AsyncClient, a fixed header, ``concurrency`` workers
    taking the next page number from a shared iterator (the shape vendorgate uses: a
    window of ``concurrency`` requests in flight, no task per page up front)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    todo = iter(range(1, pages + 1))
    total = 0

    async with httpx.AsyncClient(base_url=api_url, headers=headers) as client:

        async def worker() -> None:
            nonlocal total
            for page in todo:
                r = await client.get("/items", params={"page": page, "per_page": PER_PAGE})
                r.raise_for_status()
                total += len(r.json()["items"])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total


def _sequential(provider: Any, api_url: str, pages: int | None = None) -> int:
    """``VendorClient`` paging through every page (``pages``: stop after that many)."""
    from vendorgate.http import PageNumber, VendorClient

    n = 0
    with VendorClient(provider, base_url=api_url) as client:
        for page in client.iter_pages("/items", PageNumber(page_size=PER_PAGE)):
            n += len(page.records)
            if pages is not None and n >= pages * PER_PAGE:
                break
    return n


def _plain_sync(token: str, api_url: str, pages: int) -> int:
    """The sync baseline: a plain ``httpx.Client`` with a fixed header, page after page."""
    import httpx

    total = 0
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}) as client:
        for page in range(1, pages + 1):
            r = client.get("/items", params={"page": page, "per_page": PER_PAGE})
            r.raise_for_status()
            total += len(r.json()["items"])
    return total


def _timed(fn: Any) -> tuple[float, float, Any]:
    """``(wall seconds, CPU seconds of this process, result)`` of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _rounds(cases: dict[str, Any], rounds: int) -> dict[str, tuple[float, float]]:
    """Run every case once per round, in an order that rotates each round (no case
    always runs first or last on a machine whose load drifts); the median wall and CPU
    seconds of each case."""
    names = list(cases)
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            wall, cpu, _n = _timed(cases[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {n: (statistics.median(walls[n]), statistics.median(cpus[n])) for n in names}


def throughput(pages: int, *, rounds: int) -> None:
    """Each client against plain httpx doing the same requests, at 50 ms and 0 ms."""
    from vendorgate.testing.sandbox import VendorSandbox

    # sequential clients at 50 ms are latency bound (20 pages/s): fewer pages suffice
    seq_pages = {50: max(20, pages // 8), 0: pages}
    print(
        f"\n## throughput: {pages} pages x {PER_PAGE} records (sequential rows at 50 ms: "
        f"{seq_pages[50]}), async concurrency 8; median of {rounds} interleaved rounds"
    )
    print(
        f"{'latency':>8} {'client':<34} {'seconds':>8} {'pages/s':>8} {'CPU ms/page':>12} "
        f"{'ratio':>6}"
    )
    with VendorSandbox(process=True, dataset_size=pages * PER_PAGE) as sb:
        secret = sb.demo_credentials(PRESET)["client_secret"].reveal()
        api_url = sb.api_url(PRESET)
        provider = _provider(sb.url, sb.token_url(PRESET), secret)
        token = provider.get_token().access_token
        for latency_ms in (50, 0):
            sb.set_faults(path=f"/{PRESET}/api/*", latency_ms=latency_ms)
            # warm up connections and the server
            asyncio.run(_plain_httpx(token, api_url, min(pages, 50), 8))
            sp = seq_pages[latency_ms]
            cases: dict[str, tuple[Callable[[], int], int]] = {
                "plain httpx.AsyncClient, 8 workers": (
                    lambda: asyncio.run(_plain_httpx(token, api_url, pages, 8)),
                    pages,
                ),
                "AsyncVendorClient, concurrency 8": (
                    lambda: asyncio.run(_vendorgate_async(provider, api_url, 8)),
                    pages,
                ),
                "plain httpx.Client, sequential": (
                    functools.partial(_plain_sync, token, api_url, sp),
                    sp,
                ),
                "VendorClient, sequential": (
                    functools.partial(_sequential, provider, api_url, sp),
                    sp,
                ),
            }
            got = {name: fn() for name, (fn, _n) in cases.items()}  # warm-up, and counts
            for name, (_fn, n) in cases.items():
                assert got[name] == n * PER_PAGE, (name, got[name], n * PER_PAGE)
            med = _rounds({name: fn for name, (fn, _n) in cases.items()}, rounds)
            names = list(cases)
            rate = {name: cases[name][1] / med[name][0] for name in names}
            base = {names[0]: names[0], names[1]: names[0], names[2]: names[2], names[3]: names[2]}
            for name in names:
                wall, cpu = med[name]
                n = cases[name][1]
                ratio = rate[name] / rate[base[name]]
                print(
                    f"{latency_ms:>6}ms {name:<34} {wall:>8.2f} {rate[name]:>8.0f} "
                    f"{cpu / n * 1000:>12.2f} {ratio:>6.2f}"
                )
            a_ratio = rate[names[1]] / rate[names[0]]
            s_ratio = rate[names[3]] / rate[names[2]]
            seq_x = rate[names[1]] / rate[names[3]]
            print(
                f"{'':>8} => AsyncVendorClient / plain async throughput {a_ratio:.2f} "
                "(target >= 0.95)"
            )
            print(f"{'':>8} => VendorClient / plain sync throughput {s_ratio:.2f} (target >= 0.95)")
            goal = "(target >= 4)" if latency_ms else "(target > 1)"
            print(f"{'':>8} => AsyncVendorClient vs sequential VendorClient {seq_x:.1f}x {goal}")


def _overhead_cases(pages: int) -> dict[str, Any]:
    """The four page walks over ``httpx.MockTransport`` (10-record JSON pages, a total in
    the body, replies built in the process): the clients' own work and no server's."""
    import httpx

    from vendorgate._token import Token
    from vendorgate.http import AsyncVendorClient, PageNumber, VendorClient

    now = time.time()
    token = Token(access_token="overhead-token", expires_at=now + 3600, issued_at=now)
    bodies = [
        json.dumps(
            {
                "items": [
                    {"id": (p - 1) * PER_PAGE + i, "name": "x" * 150} for i in range(PER_PAGE)
                ],
                "total": pages * PER_PAGE,
                "page": p,
                "per_page": PER_PAGE,
            }
        ).encode()
        for p in range(1, pages + 1)
    ]

    def reply(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        return httpx.Response(
            200, content=bodies[page - 1], headers={"content-type": "application/json"}
        )

    async def areply(request: httpx.Request) -> httpx.Response:
        return reply(request)

    class Source:  # a warm token source: what a TokenProvider is between refreshes
        vendor = "overhead"
        invalid_token_statuses = frozenset({401})

        def get_token(self) -> Token:
            return token

        async def aget_token(self) -> Token:
            return token

        def invalidate(self, _t: Token) -> bool:
            return True

        async def ainvalidate(self, _t: Token) -> bool:
            return True

    base = "http://127.0.0.1:9/api"
    auth = {"Authorization": "Bearer overhead-token"}

    async def plain_async() -> int:
        todo = iter(range(1, pages + 1))
        total = 0
        transport = httpx.MockTransport(areply)
        async with httpx.AsyncClient(base_url=base, headers=auth, transport=transport) as c:

            async def worker() -> None:
                nonlocal total
                for page in todo:
                    r = await c.get("/items", params={"page": page, "per_page": PER_PAGE})
                    r.raise_for_status()
                    total += len(r.json()["items"])

            await asyncio.gather(*(worker() for _ in range(8)))
        return total

    async def vg_async() -> int:
        n = 0
        transport = httpx.MockTransport(areply)
        async with AsyncVendorClient(
            Source(), base_url=base, concurrency=8, transport=transport
        ) as c:
            async for page in c.iter_pages("/items", PageNumber(page_size=PER_PAGE)):
                n += len(page.records)
        return n

    def plain_sync() -> int:
        total = 0
        transport = httpx.MockTransport(reply)
        with httpx.Client(base_url=base, headers=auth, transport=transport) as c:
            for page in range(1, pages + 1):
                r = c.get("/items", params={"page": page, "per_page": PER_PAGE})
                r.raise_for_status()
                total += len(r.json()["items"])
        return total

    def vg_sync() -> int:
        transport = httpx.MockTransport(reply)
        with VendorClient(Source(), base_url=base, transport=transport) as c:
            pages_ = c.iter_pages("/items", PageNumber(page_size=PER_PAGE))
            return sum(len(page.records) for page in pages_)

    return {
        "plain httpx.AsyncClient, 8 workers": lambda: asyncio.run(plain_async()),
        "AsyncVendorClient, concurrency 8": lambda: asyncio.run(vg_async()),
        "plain httpx.Client, sequential": plain_sync,
        "VendorClient, sequential": vg_sync,
    }


def _process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used so far, from ``/proc`` (Linux);
    ``None`` where that cannot be read."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def crossover(pages: int, *, rounds: int) -> None:
    """The async client against the sequential one at 0, 1 and 2 ms, with the CPU each
    side spends per page: why concurrency cannot win at 0 ms, and where it starts to."""
    from vendorgate.testing.sandbox import VendorSandbox

    print(
        f"\n## async (concurrency 8) vs sequential near zero latency: {pages} pages, median "
        f"of {rounds} interleaved rounds; CPU per page of the client process and the sandbox"
    )
    print(
        f"{'latency':>8} {'client':<26} {'pages/s':>8} {'client CPU ms':>14} {'sandbox CPU ms':>15}"
    )
    with VendorSandbox(process=True, dataset_size=pages * PER_PAGE) as sb:
        secret = sb.demo_credentials(PRESET)["client_secret"].reveal()
        api_url = sb.api_url(PRESET)
        provider = _provider(sb.url, sb.token_url(PRESET), secret)
        provider.get_token()
        cases: dict[str, Callable[[], int]] = {
            "AsyncVendorClient": lambda: asyncio.run(_vendorgate_async(provider, api_url, 8)),
            "VendorClient, sequential": lambda: _sequential(provider, api_url),
        }
        for latency_ms in (0, 1, 2):
            sb.set_faults(path=f"/{PRESET}/api/*", latency_ms=latency_ms)
            figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
            for fn in cases.values():
                fn()  # warm-up
            for r in range(rounds):
                names = list(cases)
                for name in names[r % 2 :] + names[: r % 2]:
                    before = _process_cpu_s(sb.pid)
                    wall, cpu, n = _timed(cases[name])
                    after = _process_cpu_s(sb.pid)
                    assert n == pages * PER_PAGE, (name, n)
                    server = after - before if before is not None and after is not None else -1.0
                    figures[name].append((wall, cpu, server))
            med = {
                name: tuple(statistics.median(f[i] for f in rows) for i in range(3))
                for name, rows in figures.items()
            }
            for name, (wall, cpu, server) in med.items():
                shown = f"{server / pages * 1000:15.3f}" if server >= 0 else f"{'n/a':>15}"
                print(
                    f"{latency_ms:>6}ms {name:<26} {pages / wall:>8.0f} "
                    f"{cpu / pages * 1000:>14.3f} {shown}"
                )
            a_wall, a_cpu, _ = med["AsyncVendorClient"]
            s_wall, s_cpu, s_server = med["VendorClient, sequential"]
            print(f"{'':>8} => async / sequential {s_wall / a_wall:.2f}x")
            if latency_ms == 0 and s_server >= 0:
                # one asyncio thread is busy for a_cpu per page whatever the cores; the
                # sequential loop needs its own CPU plus the server's, back to back
                print(
                    f"{'':>8} => the async client's own CPU per page "
                    f"({a_cpu / pages * 1000:.3f} ms) against the sequential client's plus "
                    f"the sandbox's ({(s_cpu + s_server) / pages * 1000:.3f} ms): async can "
                    "only win when the vendor takes longer than the difference"
                )


def overhead(pages: int, *, rounds: int) -> None:
    """Client overhead without a server: CPU time per page over ``httpx.MockTransport``.

    The same page walk as the throughput rows, with the replies built in the process:
    what is left is the clients' own work, measured as this process's CPU time (less
    sensitive to other load than wall time), interleaved over rounds, medians compared.
    """
    cases = _overhead_cases(pages)
    for name, fn in cases.items():  # warm-up, and every record arrives
        assert fn() == pages * PER_PAGE, name
    med = _rounds(cases, rounds)
    names = list(cases)
    print(
        f"\n## client overhead without a server (httpx.MockTransport): {pages} pages, CPU "
        f"time per page, median of {rounds} interleaved rounds"
    )
    for i, name in enumerate(names):
        cpu = med[name][1] / pages * 1e6
        ratio = med[names[i - i % 2]][1] / med[name][1]
        print(f"   {name:<34} {cpu:8.1f} us/page  ratio {ratio:.2f}")


#: The page counts of the two runs whose difference is the instructions per page.
_INSTR_PAGES = (60, 240)


def _sandbox_cases(pages: int, api_url: str, token_url: str, secret: str) -> dict[str, Any]:
    """The four walks of the throughput rows against a running sandbox (0 ms)."""
    provider = _provider("", token_url, secret)
    token = provider.get_token().access_token
    return {
        "plain httpx.AsyncClient, 8 workers": lambda: asyncio.run(
            _plain_httpx(token, api_url, pages, 8)
        ),
        "AsyncVendorClient, concurrency 8": lambda: asyncio.run(
            _vendorgate_async(provider, api_url, 8)
        ),
        "plain httpx.Client, sequential": lambda: _plain_sync(token, api_url, pages),
        "VendorClient, sequential": lambda: _sequential(provider, api_url, pages),
    }


def _child_walk(case: int, pages: int, sandbox: list[str]) -> None:
    """One walk (by index) of ``_overhead_cases``, or of ``_sandbox_cases`` when
    ``sandbox`` holds its API URL, token URL and secret; run under callgrind by
    :func:`instructions`."""
    cases = _sandbox_cases(pages, *sandbox) if sandbox else _overhead_cases(pages)
    fn = list(cases.values())[case]
    assert fn() == pages * PER_PAGE


def _callgrind_total(case: int, pages: int, sandbox: list[str]) -> int:
    """The instructions callgrind counts for one process running one walk."""
    for attempt in (1, 2):  # a walk that failed (a loaded machine) runs once more
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "callgrind.out")
            proc = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    __file__,
                    "--child-walk",
                    str(case),
                    str(pages),
                    *sandbox,
                ],
                check=False,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            if proc.returncode == 0:
                with open(out) as fh:
                    for line in fh:
                        if line.startswith(("summary:", "totals:")):
                            return int(line.split()[1])
            print(f"   walk {case} of {pages} pages failed (attempt {attempt}):")
            print("   " + "\n   ".join(proc.stderr.strip().splitlines()[-6:]), flush=True)
    raise RuntimeError("callgrind wrote no total")


def instructions(*, async_sandbox_only: bool = False) -> None:
    """Instructions per page of each walk of ``--only overhead``, counted by callgrind.

    ``async_sandbox_only`` (``--only instructions-async``): the two async walks against
    the sandbox only (four callgrind runs instead of sixteen).

    Each walk runs in a fresh process under ``valgrind --tool=callgrind`` for
    ``_INSTR_PAGES`` pages; the difference of the two totals over the difference of the
    page counts is the cost of one more page (start-up, imports and warm-up cancel). An
    instruction count does not depend on the machine's load: the ratio to plain httpx is
    the steadiest figure of the client's overhead (over MockTransport a few hundred
    instructions of noise; against the sandbox a few percent, as httpcore's pool retries
    vary with the order tasks run in).
    """
    import shutil

    if shutil.which("valgrind") is None:
        print("\n## instructions per page: skipped (no valgrind; apt-get install valgrind)")
        return
    from vendorgate.testing.sandbox import VendorSandbox

    few, many = _INSTR_PAGES
    names = list(_overhead_cases(1))

    cases = range(2 if async_sandbox_only else len(names))

    def report(what: str, low: list[int], high: list[int]) -> None:
        print(
            f"\n## instructions per page (callgrind; {what}; runs of {few} and {many} pages, "
            "PYTHONHASHSEED=0)"
        )
        per_page = [(h - lo) / (many - few) for lo, h in zip(low, high, strict=True)]
        for i in cases:
            ratio = per_page[i - i % 2] / per_page[i]
            print(f"   {names[i]:<34} {per_page[i]:>12,.0f}  plain / client {ratio:.3f}")

    if not async_sandbox_only:
        mock = [[_callgrind_total(c, pages, []) for c in cases] for pages in (few, many)]
        report("httpx.MockTransport, no server", *mock)
    sandboxed = []
    for pages in (few, many):
        with VendorSandbox(process=True, dataset_size=pages * PER_PAGE) as sb:
            secret = sb.demo_credentials(PRESET)["client_secret"].reveal()
            where = [sb.api_url(PRESET), sb.token_url(PRESET), secret]
            sandboxed.append([_callgrind_total(c, pages, where) for c in cases])
    report("against the sandbox at 0 ms: sockets and httpcore, the client process only", *sandboxed)


def _child_pool(case: int, pages: int, sandbox: list[str]) -> None:
    """One async walk of ``_sandbox_cases`` with httpcore's pool counted (its passes,
    ``ConnectionNotAvailable`` retries, idle-connection probes, connections made); the
    counts printed as JSON. The wrappers only count, then call httpcore's own code."""
    from httpcore._async import connection_pool, http11

    counts = {"passes": 0, "retries": 0, "probes": 0, "connections": 0}
    pool = connection_pool.AsyncConnectionPool
    assign, create = pool._assign_requests_to_connections, pool.create_connection
    clear = connection_pool.AsyncPoolRequest.clear_connection
    expired = http11.AsyncHTTP11Connection.has_expired
    idle = http11.HTTPConnectionState.IDLE

    def counted_assign(self: Any) -> Any:
        counts["passes"] += 1
        return assign(self)

    def counted_create(self: Any, origin: Any) -> Any:
        counts["connections"] += 1
        return create(self, origin)

    def counted_clear(self: Any) -> None:
        counts["retries"] += 1
        clear(self)

    def counted_expired(self: Any) -> bool:
        if self._state == idle:  # an idle connection is probed for readability
            counts["probes"] += 1
        return expired(self)

    pool._assign_requests_to_connections = counted_assign  # type: ignore[method-assign]
    pool.create_connection = counted_create  # type: ignore[method-assign]
    connection_pool.AsyncPoolRequest.clear_connection = counted_clear  # type: ignore[method-assign]
    http11.AsyncHTTP11Connection.has_expired = counted_expired  # type: ignore[method-assign]
    fn = list(_sandbox_cases(pages, *sandbox).values())[case]
    assert fn() == pages * PER_PAGE
    print(json.dumps(counts))


def pool_events(pages: int, runs: int) -> None:
    """httpcore's pool work per page of the two async walks against the sandbox (0 ms)."""
    from vendorgate.testing.sandbox import VendorSandbox

    names = list(_overhead_cases(1))[:2]
    print(
        f"\n## httpcore pool per page: {pages} pages at 0 ms, concurrency 8, median of "
        f"{runs} runs (a fresh process each)"
    )
    print(f"   {'':<34} {'passes':>7} {'retries':>8} {'probes':>7} {'connections':>12}")
    with VendorSandbox(process=True, dataset_size=pages * PER_PAGE) as sb:
        secret = sb.demo_credentials(PRESET)["client_secret"].reveal()
        where = [sb.api_url(PRESET), sb.token_url(PRESET), secret]
        got: dict[int, list[dict[str, int]]] = {0: [], 1: []}
        for _ in range(runs):
            for case in got:
                proc = subprocess.run(
                    [sys.executable, __file__, "--child-pool", str(case), str(pages), *where],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                got[case].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for case, name in enumerate(names):
        med = {k: statistics.median(run[k] for run in got[case]) for k in got[case][0]}
        print(
            f"   {name:<34} {med['passes'] / pages:>7.2f} {med['retries'] / pages:>8.2f} "
            f"{med['probes'] / pages:>7.2f} {med['connections']:>12.0f}"
        )


def rate_limited(pages: int, burst: int, *, told: bool = True, headers: str | None = None) -> float:
    """Pull ``pages`` against a 50 requests/s limit; return the time over the ideal."""
    from vendorgate.http import AsyncVendorClient, PageNumber, RateLimit, RetryPolicy
    from vendorgate.testing.sandbox import VendorSandbox

    rps = 50
    how = (
        "told the limit"
        if told
        else f"NOT told the limit, paced on the {headers!r} headers"
        if headers
        else "NOT told the limit: learning from 429s only"
    )
    print(
        f"\n## rate limit: {pages} pages against a {rps} requests/s vendor limit "
        f"(token bucket of {burst}, 429 + Retry-After beyond it); client {how}"
    )
    with VendorSandbox(process=True, dataset_size=pages * PER_PAGE) as sb:
        secret = sb.demo_credentials(PRESET)["client_secret"].reveal()
        provider = _provider(sb.url, sb.token_url(PRESET), secret)
        provider.get_token()
        sb.set_faults(
            path=f"/{PRESET}/api/*",
            rate_limit_rps=rps,
            rate_limit_burst=burst,
            rate_limit_headers=headers,
        )
        limiter_rates: list[float | None] = []

        async def pull() -> int:
            async with AsyncVendorClient(
                provider,
                base_url=sb.api_url(PRESET),
                concurrency=8,
                rate_limit=RateLimit(requests_per_s=rps if told else None, max_concurrency=8),
                retry=RetryPolicy(attempts=10, wait_max_s=2, timeout_s=60),
            ) as client:
                n = 0
                async for _ in client.paginate("/items", PageNumber(page_size=PER_PAGE)):
                    n += 1
                limiter_rates.append(client.limiter.current_rate)
                return n

        failures = 0
        started = time.perf_counter()
        try:
            n = asyncio.run(pull())
        except Exception as exc:  # the figure to report, not a crash
            failures, n = 1, 0
            print(f"   failed: {exc!r}")
        elapsed = time.perf_counter() - started
        counters = sb.counters()
        target = 1.15 * pages / rps
        ideal = pages / rps
        print(f"   pages fetched      {n // PER_PAGE} of {pages}")
        print(f"   failures           {failures}")
        print(f"   429s answered      {counters.rate_limited}")
        print(f"   final paced rate   {limiter_rates[0] if limiter_rates else 'n/a'}")
        print(
            f"   total time         {elapsed:.2f} s (ideal {ideal:.1f} s, target <= {target:.1f} s)"
        )
        goal = (
            "(target <= 1.15)"
            if told
            else "(target <= 1.1, no 429)"
            if headers
            else "(target <= 1.3)"
        )
        print(f"   => ratio to ideal  {elapsed / ideal:.3f} {goal}")
        return elapsed / ideal if not failures else float("inf")


def pacing(pages: int, headers: str) -> None:
    """Told the limit, headers only, 429s only: one run, a bucket of 50 at 50/s."""
    ratios = {
        "told the limit": rate_limited(pages, 50),
        f"headers only ({headers})": rate_limited(pages, 50, told=False, headers=headers),
        "429s only": rate_limited(pages, 50, told=False),
    }
    print(f"\n## pacing compared: {pages} pages at 50 requests/s, bucket 50 (one run)")
    for name, ratio in ratios.items():
        print(f"   {name:<24} {ratio:.3f} x ideal")


def pacing_model(requests: int) -> None:
    """The told-the-limit pacing on a virtual clock, for delays a busy machine adds.

    1 client told 50 requests/s (paced 47.5/s) books ``requests`` requests; every sleep
    wakes up late by an exponential delay (mean ``late``), and every request takes
    ``wire`` + an exponential delay (mean ``wire / 2``) from its slot to the socket. No
    server, no real sleeps: the figures do not depend on the machine's load. Reported:
    the time to the last request over the ideal ``requests / 50`` s, and the least gap
    between two requests on the wire (the vendor's own interval is 20 ms).
    """
    import random

    from vendorgate.http import RateLimit, RateLimiter

    real_monotonic = time.monotonic
    now = [1000.0]
    time.monotonic = lambda: now[0]  # the limiter reads time.monotonic at each call
    print(
        f"\n## pacing model (virtual clock): {requests} requests told 50 requests/s, "
        "median of 5 seeds"
    )
    print(f"   {'late wake-up':>12} {'slot to wire':>12} {'ratio to ideal':>15} {'least gap':>10}")
    try:
        for late_ms, wire_ms in ((0.0, 0.0), (0.2, 0.3), (0.5, 0.5), (1.0, 1.0), (2.0, 2.0)):
            ratios, least = [], []
            for seed in range(5):
                rnd = random.Random(seed)
                state = RateLimiter(RateLimit(requests_per_s=50)).state
                start = now[0]
                wires: list[float] = []
                for _ in range(requests):
                    wait, _ticket = state.reserve()
                    while True:
                        if wait > 0:
                            now[0] += wait + (rnd.expovariate(1000 / late_ms) if late_ms else 0)
                        wait = state.sending()
                        if wait <= 0:
                            break
                    now[0] += wire_ms / 1000 + (rnd.expovariate(2000 / wire_ms) if wire_ms else 0)
                    state.on_wire()
                    wires.append(now[0])
                ratios.append((wires[-1] - start) / (requests / 50))
                least.append(min(b - a for a, b in itertools.pairwise(wires)))
            print(
                f"   {late_ms:>9.1f} ms {wire_ms:>9.1f} ms {statistics.median(ratios):>15.3f} "
                f"{min(least) * 1000:>7.2f} ms"
            )
    finally:
        time.monotonic = real_monotonic


def _child_rss(records: int, api_url: str, token_url: str, secret: str, out: str) -> None:
    from vendorgate.http import AsyncVendorClient, PageNumber

    provider = _provider("", token_url, secret)

    async def pull() -> int:
        async with AsyncVendorClient(provider, base_url=api_url, concurrency=8) as client:
            result = await client.pull("/items", PageNumber(page_size=100), output=out)
            return result.records

    n = asyncio.run(pull())
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"records": n, "rss_kb": rss_kb}))


def memory(big: int) -> None:
    from vendorgate.testing.sandbox import VendorSandbox

    print("\n## peak RSS pulling to a JSONL file (fresh process each, ~200-byte records)")
    results = []
    for size in (1000, big):
        with (
            VendorSandbox(process=True, dataset_size=size) as sb,
            tempfile.TemporaryDirectory() as tmp,
        ):
            secret = sb.demo_credentials(PRESET)["client_secret"].reveal()
            out = os.path.join(tmp, "items.jsonl")
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child-rss",
                    str(size),
                    sb.api_url(PRESET),
                    sb.token_url(PRESET),
                    secret,
                    out,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            data = json.loads(proc.stdout.strip().splitlines()[-1])
            with open(out) as fh:
                lines = sum(1 for _ in fh)
            assert data["records"] == size == lines, (data, size, lines)
            results.append((size, data["rss_kb"]))
            print(f"   {size:>7} records  peak RSS {data['rss_kb'] / 1024:7.1f} MiB")
    ratio = results[1][1] / results[0][1]
    print(f"   => ratio {ratio:.3f} (target <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--child-rss", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--child-walk", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--child-pool", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        default="throughput,crossover,overhead,ratelimit,pacing,pacing-model,memory",
        help=(
            "scenarios; 'instructions' (callgrind, about 13 minutes), 'instructions-async' "
            "(its two async walks against the sandbox) and 'pool' (httpcore's pool per page) "
            "run only when named"
        ),
    )
    parser.add_argument(
        "--headers", default="ietf", help="header style of the pacing rows: ietf, x, x-epoch"
    )
    args = parser.parse_args()
    if args.child_rss:
        size, api_url, token_url, secret, out = args.child_rss
        _child_rss(int(size), api_url, token_url, secret, out)
        return
    if args.child_walk:
        case, pages, *sandbox = args.child_walk
        _child_walk(int(case), int(pages), sandbox)
        return
    if args.child_pool:
        case, pages, *sandbox = args.child_pool
        _child_pool(int(case), int(pages), sandbox)
        return
    only = set(args.only.split(","))
    if "throughput" in only:
        throughput(400 if args.quick else 2000, rounds=3 if args.quick else 5)
    if "crossover" in only:
        crossover(400 if args.quick else 2000, rounds=3 if args.quick else 5)
    if "overhead" in only:
        overhead(1000 if args.quick else 3000, rounds=5 if args.quick else 9)
    if "instructions" in only:
        instructions()
    if "instructions-async" in only:
        instructions(async_sandbox_only=True)
    if "pool" in only:
        pool_events(240, 5)
    if "ratelimit" in only:
        for burst in (1, 5):
            rate_limited(200 if args.quick else 1000, burst)
    if "pacing" in only:
        pacing(200 if args.quick else 1000, args.headers)
    if "pacing-model" in only:
        pacing_model(1000)
    if "memory" in only:
        memory(10_000 if args.quick else 50_000)


if __name__ == "__main__":
    main()
