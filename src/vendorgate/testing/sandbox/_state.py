"""Everything the sandbox remembers: clients, issued tokens, signing keys, faults, counters.

One :class:`SandboxState` is shared by the server's event loop thread and the test's
thread; every mutation happens under its lock. Control operations (:meth:`admin`) take
and return plain JSON values so that the in-process API and the ``/_sandbox/`` HTTP
endpoints run the very same code.
"""

from __future__ import annotations

import fnmatch
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError
from vendorgate.testing.sandbox._clients import (
    DEFAULT_LIFETIMES_S,
    SandboxClient,
    demo_clients,
)
from vendorgate.testing.sandbox._faults import Counters, Faults
from vendorgate.testing.sandbox._reports import Report

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["FaultDecision", "Issued", "SandboxState"]


@dataclass
class Issued:
    """An access or refresh token the sandbox handed out."""

    vendor: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    id_token: str | None = None
    revoked: bool = False


@dataclass
class FaultDecision:
    """What the fault layer decided for one request."""

    latency_s: float = 0.0
    status: int | None = None
    retry_after: str | None = None
    reset: bool = False
    reset_mid_body: bool = False
    truncate: bool = False
    html_token: bool = False
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    drip_s: float = 0.0
    drip_bytes: int = 1
    huge_body_bytes: int = 0
    reply_body: str | None = None
    reply_status: int = 200
    reply_headers: dict[str, str] = field(default_factory=dict)


def _new_rsa_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def _private_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


class SandboxState:
    """Shared mutable state of one sandbox."""

    def __init__(self, *, dataset_size: int = 1000, record_bytes: int = 200) -> None:
        if not isinstance(dataset_size, int) or dataset_size < 0:
            raise ConfigurationError("must be an integer >= 0", field="dataset_size")
        if not isinstance(record_bytes, int) or record_bytes < 0:
            raise ConfigurationError("must be an integer >= 0", field="record_bytes")
        self.dataset_size = dataset_size
        self.record_bytes = record_bytes
        self.lock = threading.Lock()
        self.hmac_key = secrets.token_bytes(32)
        self._demo_key = _new_rsa_key()
        self.demo_private_key_pem = _private_pem(self._demo_key)
        self.demo_public_key_pem = _public_pem(self._demo_key)
        # TCI signing keys, newest first: (kid, private key).
        self.tci_keys: list[tuple[str, Any]] = [(f"tci-{secrets.token_hex(4)}", _new_rsa_key())]
        self.clients: dict[tuple[str, str], SandboxClient] = {}
        for client in demo_clients(self.demo_public_key_pem):
            self.clients[(client.vendor, client.client_id)] = client
        self._request_seq = 0
        self.access: dict[str, Issued] = {}
        self.refresh: dict[str, Issued] = {}
        self.seen_jti: set[tuple[str, str, str]] = set()
        #: Monotonic clock of the report jobs' ``report_ready_after_s`` (replaceable in tests).
        self.clock: Callable[[], float] = time.monotonic
        self._reset_runtime()

    # ------------------------------------------------------------------ runtime state
    def _reset_runtime(self) -> None:
        # Issued tokens stay valid (a session-wide token cache keeps working), but
        # revocations are lifted; used assertion jtis stay used.
        for table in (self.access, self.refresh):
            for issued in table.values():
                issued.revoked = False
        self.token_requests: dict[tuple[str, str, str], int] = {}
        self.api_requests: dict[str, int] = {}
        self.rate_limited = 0
        self.server_errors = 0
        self.resets = 0
        self.truncated = 0
        self.requests = 0
        self.reports: dict[str, Report] = {}
        self.reports_created = 0
        self.report_polls = 0
        self.report_downloads = 0
        self.reports_failed = 0
        self._set_faults(Faults())

    def _set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.faults_active = faults.active
        self._fault_re = re.compile(fnmatch.translate(faults.path))
        self._fault_count = 0
        self._report_count = 0
        self._bucket = float(faults.rate_limit_burst)
        self._bucket_at = time.monotonic()

    def next_request_id(self) -> str:
        """A short unique request id for the ``X-Request-Id`` header."""
        self._request_seq += 1
        return f"sb-{self._request_seq:x}"

    # ------------------------------------------------------------------ faults
    def decide(self, path: str, *, is_token: bool) -> FaultDecision | None:
        """Apply the faults to one request; ``None`` when nothing applies."""
        faults = self.faults
        if not self._fault_re.match(path):
            return None
        with self.lock:
            self._fault_count += 1
            k = self._fault_count
            decision = FaultDecision(latency_s=faults.latency_ms / 1000.0)
            if faults.rate_limit_rps is not None:
                now = time.monotonic()
                self._bucket = min(
                    float(faults.rate_limit_burst),
                    self._bucket + (now - self._bucket_at) * faults.rate_limit_rps,
                )
                self._bucket_at = now
                allowed = self._bucket >= 1.0
                if allowed:
                    self._bucket -= 1.0
                if faults.rate_limit_headers is not None:
                    decision.headers = self._rate_limit_headers(faults)
                if not allowed:
                    wait_s = (1.0 - self._bucket) / faults.rate_limit_rps
                    decision.status = 429
                    decision.retry_after = self._retry_after(max(1, int(wait_s + 0.999)))
                    return decision
        if faults.status is not None and self._hits(
            k, faults.status_every, faults.status_burst, True
        ):
            decision.status = faults.status
            if faults.retry_after_s is not None and faults.status in (429, 503):
                decision.retry_after = self._retry_after(faults.retry_after_s)
        elif self._hits(k, faults.reset_every, faults.reset_burst, False):
            decision.reset = True
            decision.reset_mid_body = faults.reset_mid_body
        elif self._hits(k, faults.truncate_every, faults.truncate_burst, False):
            decision.truncate = True
        decision.html_token = is_token and faults.html_token_endpoint
        decision.drip_s = faults.drip_ms / 1000.0
        decision.drip_bytes = faults.drip_bytes
        decision.huge_body_bytes = faults.huge_body_bytes
        decision.reply_body = faults.reply_body
        decision.reply_status = faults.reply_status
        decision.reply_headers = dict(faults.reply_headers)
        return decision

    def _rate_limit_headers(self, faults: Faults) -> list[tuple[bytes, bytes]]:
        """The rate limit as reply headers (call under the lock, after the bucket moved).

        The policy states the sustained rate as ``quota`` requests per ``window`` seconds
        (a whole number of seconds, at least the time to refill the bucket); ``remaining``
        and ``reset`` describe the bucket now: requests that would pass at once, and
        seconds until it is full again. With ``rate_limit_burst`` equal to the rate per
        second, they describe a one-second window exactly.
        """
        rps = faults.rate_limit_rps
        assert rps is not None
        burst = faults.rate_limit_burst
        window = max(1, math.ceil(burst / rps))
        quota = max(burst, int(rps * window))
        remaining = int(self._bucket)
        reset = max(0, math.ceil((burst - self._bucket) / rps - 1e-9))
        style = faults.rate_limit_headers
        headers: list[tuple[bytes, bytes]] = []
        if style in ("ietf", "both"):
            headers.append((b"ratelimit-policy", f'"default";q={quota};w={window}'.encode()))
            headers.append((b"ratelimit", f'"default";r={remaining};t={reset}'.encode()))
        if style in ("x", "x-epoch", "both"):
            reset_value = math.ceil(time.time()) + reset if style == "x-epoch" else reset
            headers.append((b"x-ratelimit-limit", str(quota).encode()))
            headers.append((b"x-ratelimit-remaining", str(remaining).encode()))
            headers.append((b"x-ratelimit-reset", str(reset_value).encode()))
        return headers

    @staticmethod
    def _hits(k: int, every: int, burst: int, default: bool) -> bool:
        if not every and not burst:
            return default
        return (burst > 0 and k <= burst) or (every > 0 and k % every == 0)

    def _retry_after(self, seconds: int) -> str:
        if self.faults.retry_after_http_date:
            from email.utils import formatdate

            return formatdate(time.time() + seconds, usegmt=True)
        return str(seconds)

    def count_status(self, status: int) -> None:
        """Count a reply status (429s and 5xx)."""
        if status == 429:
            with self.lock:
                self.rate_limited += 1
        elif status >= 500:
            with self.lock:
                self.server_errors += 1

    # ------------------------------------------------------------------ tokens
    def now(self) -> float:
        """The vendor's clock: the host's plus the ``clock_offset_s`` fault."""
        return time.time() + self.faults.clock_offset_s

    def lifetime_s(self, vendor: str) -> int:
        """The token lifetime for a vendor, honouring the fault overrides."""
        overrides = self.faults.token_lifetime_s
        return int(overrides.get(vendor, overrides.get("*", DEFAULT_LIFETIMES_S[vendor])))

    def count_token_request(self, vendor: str, client_id: object = "", grant: object = "") -> None:
        """Count one token request; a client id or grant that is not a string counts as ``""``."""
        key = (
            vendor,
            client_id if isinstance(client_id, str) else "",
            grant if isinstance(grant, str) else "",
        )
        with self.lock:
            self.token_requests[key] = self.token_requests.get(key, 0) + 1

    def count_api_request(self, vendor: str) -> None:
        """Count one data API request."""
        with self.lock:
            self.api_requests[vendor] = self.api_requests.get(vendor, 0) + 1

    def client(self, vendor: str, client_id: object) -> SandboxClient | None:
        """The registration for a client id, or ``None``."""
        if not isinstance(client_id, str):
            return None
        return self.clients.get((vendor, client_id))

    def jti_fresh(self, vendor: str, client_id: str, jti: str) -> bool:
        """Record an assertion's ``jti``; ``False`` if the client used it before."""
        key = (vendor, client_id, jti)
        with self.lock:
            if key in self.seen_jti:
                return False
            self.seen_jti.add(key)
            return True

    def remember_access(self, token: str, issued: Issued) -> None:
        """Store an issued access token."""
        with self.lock:
            self.access[token] = issued

    def remember_refresh(self, token: str, issued: Issued) -> None:
        """Store an issued refresh token."""
        with self.lock:
            self.refresh[token] = issued

    def check_access(self, token: str, vendor: str) -> Issued | None:
        """The record of a good (known, unexpired, unrevoked) access token for ``vendor``."""
        issued = self.access.get(token)
        if issued is None or issued.revoked or issued.vendor != vendor:
            return None
        if issued.expires_at <= self.now():
            return None
        return issued

    def sign_hs256(self, claims: Mapping[str, Any]) -> str:
        """An HS256 JWT signed with the sandbox's own key (opaque to clients)."""
        import jwt

        return jwt.encode(dict(claims), self.hmac_key, algorithm="HS256")

    def sign_tci(self, claims: Mapping[str, Any]) -> str:
        """An RS256 JWT signed with the current TCI key, with its ``kid`` header."""
        import jwt

        kid, key = self.tci_keys[0]
        return jwt.encode(dict(claims), key, algorithm="RS256", headers={"kid": kid})

    def tci_jwks(self) -> dict[str, Any]:
        """The TCI JWKS document (every key still published)."""
        import json

        from jwt.algorithms import RSAAlgorithm

        keys = []
        for kid, key in self.tci_keys:
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
            keys.append(jwk)
        return {"keys": keys}

    # ------------------------------------------------------------------ report jobs
    def create_report(self, vendor: str, client_id: str, name: str, records: int) -> Report:
        """Create a report job with the report settings in force now."""
        faults = self.faults
        with self.lock:
            self._report_count += 1
            fail = self._hits(
                self._report_count, faults.report_fail_every, faults.report_fail_burst, False
            )
            report = Report(
                id=f"rep-{secrets.token_hex(8)}",
                vendor=vendor,
                client_id=client_id,
                name=name,
                records=records,
                ready_after_polls=faults.report_ready_after_polls,
                ready_at=self.clock() + faults.report_ready_after_s,
                fail=fail,
            )
            self.reports[report.id] = report
            self.reports_created += 1
        return report

    def find_report(self, vendor: str, client_id: str, report_id: str) -> Report | None:
        """The job ``report_id`` if that vendor's client created it, else ``None``."""
        report = self.reports.get(report_id)
        if report is None or report.vendor != vendor or report.client_id != client_id:
            return None
        return report

    def poll_report(self, report: Report) -> Report:
        """Count one status poll of a job and move it on; return it."""
        with self.lock:
            before = report.status
            report.poll(self.clock())
            self.report_polls += 1
            if report.status == "failed" and before != "failed":
                self.reports_failed += 1
        return report

    def count_report_download(self) -> None:
        """Count one report download answered."""
        with self.lock:
            self.report_downloads += 1

    # ------------------------------------------------------------------ control
    def counters(self) -> Counters:
        """A snapshot of the counters."""
        with self.lock:
            return Counters(
                token_requests=dict(self.token_requests),
                api_requests=dict(self.api_requests),
                rate_limited=self.rate_limited,
                server_errors=self.server_errors,
                resets=self.resets,
                truncated=self.truncated,
                requests=self.requests,
                reports_created=self.reports_created,
                report_polls=self.report_polls,
                report_downloads=self.report_downloads,
                reports_failed=self.reports_failed,
            )

    def admin(self, op: str, payload: Mapping[str, Any]) -> Any:
        """Run one control operation with plain JSON input and output.

        Raises:
            ConfigurationError: Unknown operation or bad payload; names the field.
        """
        if op == "faults":
            with self.lock:
                base = None if payload.get("replace") else self.faults
                faults = Faults.from_mapping(payload.get("faults", {}), base=base)
                self._set_faults(faults)
            return faults.to_mapping()
        if op == "get_faults":
            return self.faults.to_mapping()
        if op == "clear_faults":
            with self.lock:
                self._set_faults(Faults())
            return Faults().to_mapping()
        if op == "counters":
            return self.counters().to_mapping()
        if op == "reports":
            with self.lock:
                return [
                    {
                        "id": r.id,
                        "vendor": r.vendor,
                        "client_id": r.client_id,
                        "name": r.name,
                        "records": r.records,
                        "status": r.status,
                        "polls": r.polls,
                    }
                    for r in self.reports.values()
                ]
        if op == "issued_tokens":
            return self.issued_tokens()
        if op == "reset":
            with self.lock:
                self._reset_runtime()
            return {"ok": True}
        if op == "grow":
            by = payload.get("records")
            if not isinstance(by, int) or isinstance(by, bool) or by < 0:
                raise ConfigurationError("must be an integer >= 0", field="records")
            with self.lock:
                self.dataset_size += by
                return {"dataset_size": self.dataset_size}
        if op == "add_client":
            fields = dict(payload)
            vendor = fields.pop("vendor", None)
            client_id = fields.pop("client_id", None)
            if not isinstance(vendor, str):
                raise ConfigurationError("is required", field="vendor")
            known = {
                "client_secret",
                "public_key_pem",
                "username",
                "password",
                "scopes",
                "auth_methods",
                "tenants",
                "public_jwks",
            }
            for key in fields:
                if key not in known:
                    raise ConfigurationError("unknown client field", field=key)
            client = SandboxClient.build(vendor, client_id, **fields)
            with self.lock:
                self.clients[(vendor, client.client_id)] = client
            return {"vendor": vendor, "client_id": client.client_id}
        if op == "revoke":
            return {"revoked": self._revoke(payload)}
        if op == "rotate_tci_key":
            keep = bool(payload.get("keep_old", True))
            kid = f"tci-{secrets.token_hex(4)}"
            key = _new_rsa_key()
            with self.lock:
                self.tci_keys = [(kid, key), *(self.tci_keys if keep else [])]
            return {"kid": kid}
        raise ConfigurationError(
            "unknown sandbox operation; use faults, get_faults, clear_faults, counters, "
            "reports, issued_tokens, reset, add_client, revoke, rotate_tci_key",
            field="op",
        )

    def issued_tokens(self) -> list[dict[str, str]]:
        """Every access, refresh and id token handed out since start (for leak scans)."""
        out: list[dict[str, str]] = []
        seen: set[str] = set()
        with self.lock:
            for kind, table in (("access", self.access), ("refresh", self.refresh)):
                for token, issued in table.items():
                    for value, what in ((token, kind), (issued.id_token, "id")):
                        if value and value not in seen:
                            seen.add(value)
                            out.append(
                                {
                                    "token": value,
                                    "kind": what,
                                    "vendor": issued.vendor,
                                    "client_id": issued.client_id,
                                }
                            )
        return out

    def _revoke(self, payload: Mapping[str, Any]) -> int:
        token = payload.get("token")
        vendor = payload.get("vendor")
        client_id = payload.get("client_id")
        count = 0
        with self.lock:
            if isinstance(token, str):
                for table in (self.access, self.refresh):
                    issued = table.get(token)
                    if issued is not None and not issued.revoked:
                        issued.revoked = True
                        count += 1
                return count
            if not isinstance(vendor, str) or not isinstance(client_id, str):
                raise ConfigurationError("give a token, or a vendor and a client_id", field="token")
            for table in (self.access, self.refresh):
                for issued in table.values():
                    if issued.vendor == vendor and issued.client_id == client_id:
                        if not issued.revoked:
                            count += 1
                        issued.revoked = True
        return count
