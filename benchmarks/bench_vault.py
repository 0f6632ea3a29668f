"""Secret resolution and assertion signing costs, against a real OpenBao dev server.

    .venv-airflow/bin/python benchmarks/bench_vault.py            # 2,000 calls per variant
    .venv-airflow/bin/python benchmarks/bench_vault.py --quick    # 200 calls per variant

Secrets: one ``vault:`` reference resolved N times through AppRole, three ways:
``SecretResolver`` with its memory cache (the default, ``ttl_s=300``), with caching off
(``ttl_s=0``: one KV read per call on one shared login), and the anti-pattern baseline of a
fresh login per call (what a naive hook does). Logins are counted in OpenBao's audit log.

Signing: ``build_client_assertion`` with a local PEM key (RS256, ES256) and through Vault
Transit (RS256, ES256), microseconds per assertion.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import TYPE_CHECKING, Any

from vendorgate._secret import Secret
from vendorgate.secrets import SecretResolver, VaultSession
from vendorgate.signing import PemSigner, TransitSigner, build_client_assertion
from vendorgate.testing.openbao import OpenBaoServer

if TYPE_CHECKING:
    from collections.abc import Callable


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 calls per variant")
    args = parser.parse_args()
    n = 200 if args.quick else 2000
    n_login = max(n // 10, 20)  # logins are slow; fewer rounds

    with OpenBaoServer() as bao:
        root = bao.client()
        root.secrets.kv.v2.create_or_update_secret(
            path="bench/techwolf", secret={"client_secret": "s3cr3t"}, mount_point="secret"
        )
        role_id, secret_id = bao.create_approle(
            "bench",
            policy_hcl='path "secret/data/bench/*" { capabilities = ["read"] }\n'
            'path "transit/sign/*" { capabilities = ["update"] }\n'
            'path "transit/keys/*" { capabilities = ["read"] }\n',
        )
        settings = bao.settings(auth_method="approle", role_id=role_id, secret_id=Secret(secret_id))
        ref = "vault:secret/bench/techwolf#client_secret"

        rows: list[tuple[str, float, int]] = []
        logins0 = bao.count_logins()
        cached = SecretResolver(settings, ttl_s=300)
        us = _per_call_us(lambda: cached.resolve(ref, field="f"), n)
        rows.append(("resolver, memory cache (default)", us, bao.count_logins() - logins0))

        VaultSession.clear_shared()
        logins0 = bao.count_logins()
        uncached = SecretResolver(settings, ttl_s=0)
        us = _per_call_us(lambda: uncached.resolve(ref, field="f"), n)
        rows.append(("resolver, no cache (shared login)", us, bao.count_logins() - logins0))

        logins0 = bao.count_logins()
        us = _per_call_us(
            lambda: SecretResolver(VaultSession(settings), ttl_s=0).resolve(ref, field="f"),
            n_login,
        )
        rows.append(("baseline: login + read per call", us, bao.count_logins() - logins0))

        base = rows[-1][1]
        print(f"secret resolution ({n} calls; baseline {n_login} calls)")
        print(f"| {'variant':<34} | {'us/call':>9} | {'vs baseline':>11} | {'logins':>6} |")
        print(f"|{'-' * 36}|{'-' * 11}|{'-' * 13}|{'-' * 8}|")
        for name, value, logins in rows:
            print(f"| {name:<34} | {value:>9.1f} | {base / value:>10.1f}x | {logins:>6} |")

        from cryptography.hazmat.primitives import serialization as ser
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Secret:
            raw = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
            return Secret(raw.decode())

        session = VaultSession.shared(settings)
        tag = uuid.uuid4().hex[:6]
        root.secrets.transit.create_key(name=f"rsa-{tag}", key_type="rsa-2048")
        root.secrets.transit.create_key(name=f"ec-{tag}", key_type="ecdsa-p256")
        signers = [
            ("PEM RS256 (local)", PemSigner(pem(rsa.generate_private_key(65537, 2048)))),
            (
                "PEM ES256 (local)",
                PemSigner(pem(ec.generate_private_key(ec.SECP256R1())), alg="ES256"),
            ),
            ("Transit RS256", TransitSigner(session, f"transit/rsa-{tag}")),
            ("Transit ES256", TransitSigner(session, f"transit/ec-{tag}", alg="ES256")),
        ]
        n_sign = n // 2
        print(f"\nclient assertion signing ({n_sign} assertions each)")
        print(f"| {'signer':<20} | {'us/assertion':>12} | {'vs PEM RS256':>12} |")
        print(f"|{'-' * 22}|{'-' * 14}|{'-' * 14}|")
        first = 0.0
        for name, signer in signers:

            def sign(s: Any = signer) -> str:
                return build_client_assertion(s, client_id="c", audience="aud")

            us = _per_call_us(sign, n_sign)
            first = first or us
            print(f"| {name:<20} | {us:>12.1f} | {us / first:>11.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
