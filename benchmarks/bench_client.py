"""The vendor API client: throughput against plain httpx, rate-limit compliance, memory.

    .venv-airflow/bin/python benchmarks/bench_client.py            # 2,000 / 1,000 / 50,000
    .venv-airflow/bin/python benchmarks/bench_client.py --quick    # 400 / 200 / 10,000

The vendor sandbox runs in a subprocess (``VendorSandbox(process=True)``); every figure
and its baseline come from the same run. Scenarios:

1. Pull N pages (10 records each) with 50 ms of injected latency per page: the
   ``AsyncVendorClient`` at concurrency 8 against a plain ``httpx.AsyncClient`` doing the
   same requests at the same concurrency with a fixed Authorization header (target
   ratio >= 0.9; both keep a window of 8 requests in flight: 8 workers for httpx) and
   against a sequential loop (``VendorClient``, target >= 4x). Then the
   same pair at zero latency, where client overhead dominates.
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
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

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
    from vendorgate.http import AsyncVendorClient, PageNumber

    n = 0
    async with AsyncVendorClient(provider, base_url=api_url, concurrency=concurrency) as client:
        async for _ in client.paginate("/items", PageNumber(page_size=PER_PAGE)):
            n += 1
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


def _sequential(provider: Any, api_url: str) -> int:
    from vendorgate.http import PageNumber, VendorClient

    with VendorClient(provider, base_url=api_url) as client:
        return sum(1 for _ in client.paginate("/items", PageNumber(page_size=PER_PAGE)))


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def throughput(pages: int, *, with_sequential: bool) -> None:
    from vendorgate.testing.sandbox import VendorSandbox

    print(f"\n## throughput: {pages} pages x {PER_PAGE} records, concurrency 8")
    print(f"{'latency':>8} {'client':<28} {'seconds':>8} {'pages/s':>8} {'ratio':>8}")
    with VendorSandbox(process=True, dataset_size=pages * PER_PAGE) as sb:
        secret = sb.demo_credentials(PRESET)["client_secret"].reveal()
        api_url = sb.api_url(PRESET)
        provider = _provider(sb.url, sb.token_url(PRESET), secret)
        token = provider.get_token().access_token
        for latency_ms in (50, 0):
            sb.set_faults(path=f"/{PRESET}/api/*", latency_ms=latency_ms)
            # warm up connections and the server
            asyncio.run(_plain_httpx(token, api_url, min(pages, 50), 8))
            # zero latency measures client overhead: noisy on a shared machine, so the
            # two async clients alternate over 3 rounds and the medians are compared
            rounds = 1 if latency_ms else 3
            plain_t, vg_t = [], []
            n_vg = 0
            for _ in range(rounds):
                t, _n = _timed(lambda: asyncio.run(_plain_httpx(token, api_url, pages, 8)))
                plain_t.append(t)
                t, n_vg = _timed(lambda: asyncio.run(_vendorgate_async(provider, api_url, 8)))
                vg_t.append(t)
            t_plain, t_vg = statistics.median(plain_t), statistics.median(vg_t)
            rows: list[tuple[str, float, int]] = [
                ("plain httpx, 8 workers", t_plain, pages),
                ("vendorgate AsyncVendorClient", t_vg, n_vg // PER_PAGE),
            ]
            if with_sequential:
                t_seq, n_seq = _timed(lambda: _sequential(provider, api_url))
                rows.append(("sequential VendorClient", t_seq, n_seq // PER_PAGE))
            for name, t, _n in rows:
                ratio = t_plain / t  # throughput relative to plain httpx
                print(f"{latency_ms:>6}ms {name:<28} {t:>8.2f} {pages / t:>8.0f} {ratio:>8.2f}")
            assert n_vg == pages * PER_PAGE, (n_vg, pages * PER_PAGE)
            goal = ("(target >= 0.9)", "(target >= 4)") if latency_ms else ("", "")
            print(f"{'':>8} => vendorgate/plain throughput {t_plain / t_vg:.2f} {goal[0]}")
            if with_sequential:
                print(f"{'':>8} => vendorgate vs sequential {t_seq / t_vg:.1f}x {goal[1]}")


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
    parser.add_argument("--only", default="throughput,ratelimit,pacing,memory")
    parser.add_argument(
        "--headers", default="ietf", help="header style of the pacing rows: ietf, x, x-epoch"
    )
    args = parser.parse_args()
    if args.child_rss:
        size, api_url, token_url, secret, out = args.child_rss
        _child_rss(int(size), api_url, token_url, secret, out)
        return
    only = set(args.only.split(","))
    if "throughput" in only:
        throughput(400 if args.quick else 2000, with_sequential=True)
    if "ratelimit" in only:
        for burst in (1, 5):
            rate_limited(200 if args.quick else 1000, burst)
    if "pacing" in only:
        pacing(200 if args.quick else 1000, args.headers)
    if "memory" in only:
        memory(10_000 if args.quick else 50_000)


if __name__ == "__main__":
    main()
