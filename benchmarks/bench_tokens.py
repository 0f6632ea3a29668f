"""Token engine costs against the vendor sandbox: fetch overhead, cache hits, JWKS checks.

    .venv-airflow/bin/python benchmarks/bench_tokens.py            # 300 fetches per variant
    .venv-airflow/bin/python benchmarks/bench_tokens.py --quick    # 50 fetches per variant

Fetch: ``TokenFetcher.fetch()`` for each preset on one shared ``httpx.Client``, against
the baseline of a hand-written ``httpx`` POST of the same request (same client, same
body) -- the ratio is vendorgate's overhead (building the dialect's request, resolving an
``env:`` secret, parsing and, for TCI, verifying the JWT against the cached JWKS).

Provider: ``TokenProvider.get_token()`` on a warm cache vs a token fetch: what caching
saves per call.

JWKS: verifying one TCI token with the JWKS cached vs refetched each time.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING

import httpx

from vendorgate.cache import TokenCache
from vendorgate.dialects import get_dialect
from vendorgate.testing.sandbox import VendorSandbox
from vendorgate.tokens import (
    JwksValidator,
    TokenConfig,
    TokenFetcher,
    TokenProvider,
    clear_jwks_cache,
)

if TYPE_CHECKING:
    from collections.abc import Callable

PRESETS = ("techwolf-eu", "lonewolf", "tci-atm", "oauth2-basic", "wokelo")


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def _config(sb: VendorSandbox, preset: str) -> TokenConfig:
    demo = sb.demo_credentials(preset)
    var = "BENCH_SECRET_" + preset.upper().replace("-", "_")
    os.environ[var] = demo["client_secret"].reveal()
    values: dict[str, object] = {
        "client_id": demo["client_id"],
        "token_url": sb.token_url(preset),
        "client_secret": f"env:{var}",
    }
    if demo.get("tenant"):
        values["tenant"] = demo["tenant"]
    if preset == "wokelo":
        values["username"] = f"literal:{demo['username']}"
        values["password"] = f"literal:{demo['password'].reveal()}"
    return TokenConfig(dialect=get_dialect(preset), **values)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 fetches per variant")
    args = parser.parse_args()
    n = 50 if args.quick else 300

    with VendorSandbox() as sb, httpx.Client() as client:
        print(f"fetch: {n} token requests per variant, one shared httpx.Client")
        print(f"{'preset':<14} {'raw httpx µs':>13} {'vendorgate µs':>14} {'overhead':>9}")
        for preset in PRESETS:
            cfg = _config(sb, preset)
            fetcher = TokenFetcher(cfg, http_client=client)
            request = fetcher.build_request()
            kwargs = request.httpx_kwargs()

            def raw(url: str = request.url, kw: dict[str, object] = kwargs) -> None:
                client.post(url, **kw).raise_for_status()  # type: ignore[arg-type]

            raw_us = _per_call_us(raw, n)
            vg_us = _per_call_us(fetcher.fetch, n)
            print(f"{preset:<14} {raw_us:>13.0f} {vg_us:>14.0f} {vg_us / raw_us:>8.2f}x")

        provider = TokenProvider(_config(sb, "lonewolf"), cache=TokenCache(), http_client=client)
        hit_us = _per_call_us(provider.get_token, n * 100)
        fetch_us = _per_call_us(provider.fetcher.fetch, n)
        print(
            f"\nprovider: warm get_token {hit_us:.1f} µs vs fetch {fetch_us:.0f} µs "
            f"({fetch_us / hit_us:.0f}x cheaper)"
        )

        tci = TokenFetcher(_config(sb, "tci-atm"), http_client=client)
        token = tci.fetch().access_token
        # TCI tokens carry the application id (not the client id) in ``aud``.
        app_id = sb.config()["vendors"]["tci"]["application_id"]
        validator = JwksValidator(sb.jwks_url(), audience=app_id)
        cached_us = _per_call_us(lambda: validator.validate(token, http_client=client), n * 10)

        def cold() -> None:
            clear_jwks_cache()
            validator.validate(token, http_client=client)

        cold_us = _per_call_us(cold, n)
        print(
            f"jwks: verify with cached JWKS {cached_us:.0f} µs vs refetched {cold_us:.0f} µs "
            f"({cold_us / cached_us:.1f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
