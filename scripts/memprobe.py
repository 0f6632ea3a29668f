#!/usr/bin/env python3
"""Issue 12 probe: one process pulls again and again, the way a soak worker does.

    .venv-airflow/bin/python scripts/memprobe.py --pulls 600
    .venv-airflow/bin/python scripts/memprobe.py --pulls 300 --tracemalloc 100

Each pull is ``VendorConnection.from_mapping(...)`` -> ``client(on_event=...)`` ->
``pull()`` of the whole data set to a new JSON Lines file (deleted after), against a
sandbox process issuing short-lived tokens and faulting about 5 % of the API requests,
through a Redis token cache (``--cache redis``, under a key prefix of this run's own,
deleted at the end), a file cache or the memory cache. Every ``--every`` pulls it prints
the RSS, the live objects after ``gc.collect()``, threads and open files; with
``--tracemalloc K`` it also compares a snapshot at pull K with one at the end (top
allocations by traceback) and prints the object types that grew in between.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import secrets
import shutil
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

PRESET = "lonewolf"
SECRET_ENV = "VENDORGATE_MEMPROBE_CLIENT_SECRET"


def _types() -> collections.Counter[str]:
    gc.collect()
    return collections.Counter(
        f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pulls", type=int, default=600)
    parser.add_argument("--every", type=int, default=50, help="print a line every N pulls")
    parser.add_argument("--cache", choices=("redis", "file", "memory"), default="redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--dataset-size", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--lifetime-s", type=int, default=5, help="token lifetime")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument(
        "--tracemalloc", type=int, default=0, metavar="K", help="snapshot at pull K"
    )
    args = parser.parse_args()

    import psutil

    from vendorgate import VendorConnection, VendorgateError
    from vendorgate.http import PageNumber
    from vendorgate.testing.sandbox import Faults, VendorSandbox

    secret = secrets.token_urlsafe(24)
    os.environ[SECRET_ENV] = secret
    tmp = Path(tempfile.mkdtemp(prefix="vendorgate-memprobe-"))
    prefix = f"vendorgate:memprobe-{os.getpid()}:"
    me = psutil.Process()
    sandbox = VendorSandbox(process=True, dataset_size=args.dataset_size).start()
    try:
        sandbox.add_client(PRESET, "memprobe", client_secret=secret)
        faults: dict[str, Any] = {}
        if not args.no_faults:
            faults = dict(status_every=59, reset_every=60, truncate_every=61, status=429)
            faults.update(retry_after_s=0, reset_mid_body=True)
        sandbox.set_faults(
            Faults(path=f"/{PRESET}/api/*", token_lifetime_s={PRESET: args.lifetime_s}, **faults)
        )
        cache: dict[str, Any] = {"backend": args.cache}
        if args.cache == "redis":
            cache.update(url=args.redis_url, prefix=prefix)
        elif args.cache == "file":
            cache.update(directory=str(tmp / "token-cache"))
        mapping = {
            "token": {
                "preset": PRESET,
                "client_id": "memprobe",
                "client_secret": f"env:{SECRET_ENV}",
                "token_url": sandbox.token_url(PRESET),
                "audience": sandbox.audience(PRESET),
            },
            "base_url": sandbox.api_url(PRESET),
            "cache": cache,
        }
        if args.tracemalloc:
            tracemalloc.start(25)
        first: tuple[Any, collections.Counter[str]] | None = None
        start = time.monotonic()
        for n in range(1, args.pulls + 1):
            output = tmp / f"out-{n:05d}.jsonl"
            for _ in range(3):  # a failed pull resumes from its checkpoint, as the soak's
                try:
                    connection = VendorConnection.from_mapping(mapping)
                    with connection.client(on_event=lambda event: None) as client:
                        client.pull("/items", PageNumber(page_size=args.page_size), output=output)
                    break
                except VendorgateError as exc:
                    print(f"pull {n}: {type(exc).__name__}, resuming")
            output.unlink(missing_ok=True)
            if n == args.tracemalloc:
                first = (tracemalloc.take_snapshot(), _types())
            if n % args.every == 0:
                live = sum(_types().values())
                print(
                    f"pull {n:5d} {time.monotonic() - start:7.1f} s  "
                    f"rss {me.memory_info().rss / 2**20:6.1f} MB  objects {live}  "
                    f"threads {threading.active_count()}  fds {me.num_fds()}",
                    flush=True,
                )
        if first is not None:
            snapshot, before = first
            after = _types()
            print(f"object types grown from pull {args.tracemalloc} to {args.pulls}:")
            grown = sorted(((k, after[k] - before.get(k, 0)) for k in after), key=lambda kv: -kv[1])
            for name, delta in grown[:15]:
                print(f"  {delta:+7d} {after[name]:8d} {name}")
            print("tracemalloc, top growth by traceback:")
            for stat in tracemalloc.take_snapshot().compare_to(snapshot, "traceback")[:8]:
                print(f"  {stat}")
                for line in stat.traceback.format()[-12:]:
                    print(f"      {line}")
    finally:
        sandbox.stop()
        if args.cache == "redis":
            import redis

            server = redis.Redis.from_url(args.redis_url)
            for key in server.scan_iter(prefix + "*"):
                server.delete(key)
            server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
