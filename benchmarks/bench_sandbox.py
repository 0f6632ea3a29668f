"""Is the vendor sandbox ever the bottleneck? wrk against it vs a plain sync httpx client.

Starts the sandbox in a subprocess (``VendorSandbox(process=True)``), then on the same
trivial endpoint (``GET /ping``) measures:

- baseline: one plain ``httpx.Client`` (keep-alive) in a loop, as a pipeline would;
- ``wrk -t2 -c32``: what the sandbox can serve.

Target: wrk's rate >= 2x the httpx rate. For information it also measures the Lone Wolf
token endpoint and a 100-record data page, with both tools.

Run: ``.venv-airflow/bin/python benchmarks/bench_sandbox.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import httpx

from vendorgate.testing.sandbox import VendorSandbox

LONEWOLF_BODY = (
    '{"grant_type":"client_credentials","client_id":"demo-client",'
    '"client_secret":"demo-secret-lonewolf","audience":"https://api.lwolf.com"}'
)


def httpx_rate(
    method: str, url: str, seconds: float, *, headers: dict[str, str] | None = None, body: str = ""
) -> float:
    """Requests per second of one sync httpx client with keep-alive."""
    with httpx.Client(headers=headers) as client:
        client.request(method, url, content=body or None)  # warm-up, connect
        n = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            r = client.request(method, url, content=body or None)
            if r.status_code != 200:
                raise SystemExit(f"unexpected status {r.status_code} from {url}")
            n += 1
        return n / (time.perf_counter() - start)


def wrk_rate(
    url: str, seconds: int, *, headers: dict[str, str] | None = None, post_body: str = ""
) -> tuple[float, int]:
    """Requests per second (and non-2xx count) reported by ``wrk -t2 -c32``."""
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    script = None
    if post_body:
        fd, script = tempfile.mkstemp(suffix=".lua")
        with os.fdopen(fd, "w") as f:
            f.write(
                'wrk.method = "POST"\n'
                f"wrk.body = '{post_body}'\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
        cmd += ["-s", script]
    try:
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    finally:
        if script:
            os.unlink(script)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"could not parse wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return float(match.group(1)), int(bad.group(1)) if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 10 s)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 1
    client_s = 1.0 if args.quick else 4.0
    wrk_s = 2 if args.quick else 5

    rows: list[tuple[str, float, float]] = []
    with VendorSandbox(process=True, dataset_size=10_000, record_bytes=200) as sb:
        ping = sb.url + "/ping"
        base_ping = httpx_rate("GET", ping, client_s)
        wrk_ping, bad = wrk_rate(ping, wrk_s)
        if bad:
            raise SystemExit(f"{bad} non-2xx replies from /ping")
        rows.append(("GET /ping (trivial)", base_ping, wrk_ping))

        token_url = sb.token_url("lonewolf")
        headers = {"Content-Type": "application/json"}
        base_tok = httpx_rate("POST", token_url, client_s, headers=headers, body=LONEWOLF_BODY)
        wrk_tok, _ = wrk_rate(token_url, wrk_s, post_body=LONEWOLF_BODY)
        rows.append(("POST lonewolf token", base_tok, wrk_tok))

        token = httpx.post(token_url, content=LONEWOLF_BODY, headers=headers).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        page = sb.api_url("lonewolf") + "/items?page=3&per_page=100"
        base_page = httpx_rate("GET", page, client_s, headers=auth)
        wrk_page, _ = wrk_rate(page, wrk_s, headers=auth)
        rows.append(("GET 100-record page", base_page, wrk_page))

    print(f"vendor sandbox throughput ({'quick' if args.quick else 'full'} run, loopback)")
    print(f"{'endpoint':<22} {'httpx sync req/s':>17} {'wrk -t2 -c32 req/s':>19} {'ratio':>6}")
    for name, base, wrk in rows:
        print(f"{name:<22} {base:>17,.0f} {wrk:>19,.0f} {wrk / base:>6.2f}")
    ratio = rows[0][2] / rows[0][1]
    verdict = "PASS" if ratio >= 2.0 else "FAIL"
    print(f"target: wrk/httpx on /ping >= 2.0 -> {ratio:.2f} {verdict}")
    return 0 if ratio >= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
