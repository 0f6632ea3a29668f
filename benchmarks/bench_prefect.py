"""The token cache inside Prefect: a warm hit against Secret.load(); the lock's effect.

    .venv-prefect/bin/python benchmarks/bench_prefect.py            # 2000 calls, 12 workers
    .venv-prefect/bin/python benchmarks/bench_prefect.py --quick    # 300 calls, 6 workers

(Run from the Airflow environment by ``scripts/dev.py bench``, it re-runs itself in the
Prefect environment.) One run starts Prefect's test harness (a temporary server on
SQLite) and the vendor sandbox, then measures, in the same run:

1. **Warm hit inside a task**: the per-call cost of ``provider.get_token()`` from a
   ``VendorApi`` block's provider (memory level in front of the block-document store)
   against a plain ``Secret.load(NAME).get()`` per call, the usual way to fetch a
   credential in a Prefect task (one API read each time). Reports both in microseconds
   and the ratio.
2. **Token requests with and without the lock**: W cold "workers" (each its own
   ``TokenCache`` on the block-document store, as separate processes would have) ask
   for a token at once while the token endpoint takes 300 ms; with the
   global-concurrency-limit lock the sandbox should count 1 request, without it (store
   only, no cross-worker lock) up to W.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]


def _reexec_in_prefect_env() -> None:
    try:
        import prefect  # noqa: F401
    except ImportError:
        python = ROOT / ".venv-prefect" / "bin" / "python"
        if not python.exists():
            print("no .venv-prefect: run python3 scripts/dev.py sync first")
            raise SystemExit(1) from None
        os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def _warm_vs_secret_load(calls: int, sandbox: object) -> None:
    from prefect import flow, task
    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    from vendorgate.prefect import VendorApi, VendorCredentials
    from vendorgate.prefect._connection import token_provider

    demo = sandbox.demo_credentials("oauth2-basic")  # type: ignore[attr-defined]
    secret = demo["client_secret"].reveal()
    Secret(value=secret).save("bench-client-secret", overwrite=True)
    api = VendorApi(
        credentials=VendorCredentials(
            preset="oauth2-basic",
            client_id=demo["client_id"],
            token_url=demo["token_url"],
            client_secret=SecretStr(secret),
        ),
        base_url=sandbox.api_url("oauth2-basic"),  # type: ignore[attr-defined]
    )

    @task
    def measure() -> tuple[float, float]:
        provider = token_provider(api)
        provider.get_token()  # warm up: first token, block document written
        rounds_hit, rounds_load = [], []
        per_round = max(calls // 10, 1)
        for _ in range(10):  # interleaved rounds
            start = time.perf_counter()
            for _ in range(per_round):
                provider.get_token()
            rounds_hit.append((time.perf_counter() - start) / per_round)
            start = time.perf_counter()
            for _ in range(max(per_round // 10, 1)):
                loaded = Secret.load("bench-client-secret", _sync=True)  # type: ignore[call-arg]
                cast("Secret[str]", loaded).get()
            rounds_load.append((time.perf_counter() - start) / max(per_round // 10, 1))
        return statistics.median(rounds_hit), statistics.median(rounds_load)

    @flow
    def bench() -> tuple[float, float]:
        return measure()

    hit, load = bench()
    print(f"warm hit inside a task:   {hit * 1e6:10.2f} us per get_token()")
    print(f"Secret.load() per call:   {load * 1e6:10.2f} us per call")
    print(f"ratio Secret.load / warm hit: {load / hit:,.0f}x")


def _requests(sandbox: object, workers: int, *, locked: bool) -> int:
    from vendorgate.cache import CacheTiming, TokenCache
    from vendorgate.prefect import PrefectBlockStore, PrefectConcurrencyLock
    from vendorgate.testing import Faults
    from vendorgate.tokens import TokenConfig, TokenProvider

    client_id = f"bench-{uuid.uuid4().hex[:8]}"
    demo = sandbox.demo_credentials("oauth2-basic")  # type: ignore[attr-defined]
    sandbox.add_client("oauth2-basic", client_id, client_secret=demo["client_secret"])  # type: ignore[attr-defined]
    config = TokenConfig.from_mapping(
        {
            "preset": "oauth2-basic",
            "client_id": client_id,
            "token_url": demo["token_url"],
            "client_secret": demo["client_secret"],
        }
    )
    caches = [
        TokenCache(
            PrefectBlockStore(),
            PrefectConcurrencyLock() if locked else None,
            timing=CacheTiming(lock_wait_s=60),
        )
        for _ in range(workers)
    ]
    sandbox.set_faults(Faults(path="/oauth2/token", latency_ms=300))  # type: ignore[attr-defined]
    before = sandbox.counters().tokens(vendor="oauth2")  # type: ignore[attr-defined]
    barrier = threading.Barrier(workers)

    def worker(cache: TokenCache) -> None:
        provider = TokenProvider(config, cache=cache)
        barrier.wait()
        provider.get_token()

    threads = [threading.Thread(target=worker, args=(c,)) for c in caches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sandbox.clear_faults()  # type: ignore[attr-defined]
    return int(sandbox.counters().tokens(vendor="oauth2") - before)  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    calls, workers = (300, 6) if args.quick else (2000, 12)

    from prefect.testing.utilities import prefect_test_harness

    from vendorgate.testing import VendorSandbox

    with prefect_test_harness(server_startup_timeout=180), VendorSandbox() as sandbox:
        # Threads started below do not inherit Prefect's temporary settings: export them.
        from prefect.settings import PREFECT_API_URL

        os.environ["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
        import vendorgate.prefect  # noqa: F401  (registers prefect-block / prefect-gcl)

        _warm_vs_secret_load(calls, sandbox)
        with_lock = _requests(sandbox, workers, locked=True)
        without = _requests(sandbox, workers, locked=False)
        print(f"{workers} cold workers, 300 ms token endpoint:")
        print(f"  token requests with the prefect-gcl lock:    {with_lock}")
        print(f"  token requests without a cross-worker lock:  {without}")
        ok = with_lock == 1
        print(f"target (1 request with the lock): {'met' if ok else 'MISSED'}")
        return 0 if ok else 1


if __name__ == "__main__":
    _reexec_in_prefect_env()
    raise SystemExit(main())
