"""``vendorgate doctor``: check Vault, each secret reference, the token fetch and a test call.

One line per step, ``ok`` or ``FAIL`` with what to fix (or, with ``--json``, one JSON
object listing the steps); exit 0 only if every step passed. A fault is reported once:
the steps that depend on a failed one are skipped, naming it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from vendorgate.cli._token import add_token_arguments, spec_from_args

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from vendorgate.secrets import VaultSession
    from vendorgate.tokens import Token, TokenFetcher

__all__ = ["add_parser"]


class _Report:
    """Runs the steps and prints them: one line each, or one JSON object at the end."""

    def __init__(self, *, as_json: bool) -> None:
        self.failed = 0
        self.as_json = as_json
        self.steps: list[dict[str, Any]] = []

    def _add(self, name: str, status: str, detail: str, error: str | None = None) -> None:
        self.steps.append({"step": name, "status": status, "detail": detail, "error": error})
        if not self.as_json:
            label = {"ok": "ok", "fail": "FAIL", "skip": "skip"}[status]
            prefix = f"{error}: " if error else ""
            sys.stdout.write(f"{label:<5} {name}: {prefix}{detail}\n")

    def step(self, name: str, fn: Callable[[], str]) -> bool:
        from vendorgate._errors import VendorgateError

        try:
            detail = fn()
        except VendorgateError as exc:
            self.failed += 1
            self._add(name, "fail", str(exc), type(exc).__name__)
            return False
        self._add(name, "ok", detail)
        return True

    def skip(self, name: str, why: str) -> None:
        self._add(name, "skip", why)

    def finish(self) -> int:
        ok = not self.failed
        if self.as_json:
            report = {"ok": ok, "failed": self.failed, "steps": self.steps}
            sys.stdout.write(json.dumps(report) + "\n")
        elif ok:
            sys.stdout.write("all checks passed\n")
        else:
            sys.stdout.write(f"{self.failed} check(s) failed\n")
        return 0 if ok else 1


def _vault_health(session: VaultSession) -> str:
    from vendorgate._errors import VaultUnavailableError

    url = session.settings.url
    status = session.health_status()
    if status == 503:
        raise VaultUnavailableError(f"Vault at {url} is sealed; unseal it")
    if status == 501:
        raise VaultUnavailableError(f"Vault at {url} is not initialised; run 'vault operator init'")
    if status not in (200, 429, 472, 473):
        raise VaultUnavailableError(f"Vault at {url} answered HTTP {status} to sys/health")
    return f"{url} reachable and unsealed"


def _fetch(fetcher: TokenFetcher, out: list[Token]) -> str:
    from vendorgate._units import format_duration

    token = fetcher.fetch()
    out.append(token)
    scope = f", scope {token.scope!r}" if token.scope else ""
    return f"{token.token_type} token, expires in {format_duration(token.remaining_s())}{scope}"


def _ping(api_url: str, path: str, token: Token, invalid: frozenset[int], timeout_s: float) -> str:
    import httpx

    from vendorgate._errors import api_error_for_status

    url = api_url.rstrip("/") + "/" + path.lstrip("/")
    try:
        resp = httpx.get(
            url, headers={"Authorization": f"Bearer {token.access_token}"}, timeout=timeout_s
        )
    except httpx.HTTPError as exc:
        raise api_error_for_status(None)(
            f"cannot reach {url} ({type(exc).__name__}); check --api-url", url=url
        ) from None
    if resp.status_code >= 400:
        hint = (
            "the API refused the fresh token: check audience, tenant and scopes"
            if resp.status_code in invalid
            else "check the path and the client's permissions"
        )
        raise api_error_for_status(resp.status_code)(
            f"GET {url} answered HTTP {resp.status_code}; {hint}",
            status=resp.status_code,
            url=url,
        )
    return f"GET {url} -> HTTP {resp.status_code}"


def _run(args: argparse.Namespace) -> int:
    from vendorgate._errors import ConfigurationError
    from vendorgate.secrets import parse_secret_ref

    spec = spec_from_args(args)
    api_url = spec.base_url
    if args.ping and not api_url:
        raise ConfigurationError(
            "--ping needs --api-url (the API base URL), or base_url in the profile",
            field="--api-url",
        )
    report = _Report(as_json=args.json)
    config = spec.token
    fetcher = spec.provider().fetcher
    refs = config.secret_references()
    in_vault = {n for n, ref in refs.items() if parse_secret_ref(ref, field=n).scheme == "vault"}
    vault_down: str | None = None  # why the steps that need Vault are skipped
    if config.vault is not None:
        session = fetcher.resolver.vault
        if not report.step("vault reachable", lambda: _vault_health(session)):
            vault_down = "Vault unreachable"
            report.skip("vault login", vault_down)
        elif not report.step(
            "vault login",
            lambda: session.client() and f"logged in with {session.settings.auth_method} auth",
        ):
            vault_down = "Vault login failed"
    else:
        report.skip("vault", "no vault: reference or transit key configured")
    failed_before_fetch: str | None = None  # the first failed step the token fetch needs
    for name, ref in refs.items():
        if vault_down is not None and name in in_vault:
            report.skip(f"secret {name}", f"skipped: {vault_down}")
            continue

        def resolve(name: str = name, ref: str = ref) -> str:
            fetcher.resolver.resolve(ref, field=name)
            return f"{parse_secret_ref(ref, field=name)} resolves"

        if not report.step(f"secret {name}", resolve) and failed_before_fetch is None:
            failed_before_fetch = f"secret {name}"
    if config.transit_key is not None:
        mount, _, key = config.transit_key.rpartition("/")

        def transit() -> str:
            fetcher.resolver.vault.transit_read_key(mount, key)
            return f"Transit key {config.transit_key} exists"

        if vault_down is not None:
            report.skip("transit key", f"skipped: {vault_down}")
        elif not report.step("transit key", transit) and failed_before_fetch is None:
            failed_before_fetch = "transit key"
    tokens: list[Token] = []
    if vault_down is not None and (in_vault or config.transit_key is not None):
        report.skip("token fetch", f"skipped: {vault_down}")
    elif failed_before_fetch is not None:
        report.skip("token fetch", f"skipped: {failed_before_fetch} failed")
    else:
        report.step("token fetch", lambda: _fetch(fetcher, tokens))
    if args.ping:
        if not tokens:
            report.skip(f"ping {args.ping}", "no token")
        else:
            token = tokens[0]
            report.step(
                f"ping {args.ping}",
                lambda: _ping(
                    api_url or "",
                    args.ping,
                    token,
                    config.dialect.invalid_token_statuses,
                    spec.timeout_s,
                ),
            )
    return report.finish()


def add_parser(subparsers: Any) -> None:
    """Register ``vendorgate doctor``."""
    parser = subparsers.add_parser(
        "doctor",
        help="check Vault, secret references, the token fetch and a test call",
        description="Check every step from Vault login to a test API call; one line per step.",
    )
    add_token_arguments(parser)
    parser.add_argument("--api-url", help="API base URL for --ping (overrides the profile's)")
    parser.add_argument(
        "--ping", metavar="PATH", help="GET this path with the token, e.g. /version"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (ok, failed, steps: step, status, detail, error)",
    )
    parser.set_defaults(func=_run)
