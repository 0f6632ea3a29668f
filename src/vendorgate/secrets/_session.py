"""One logged-in Vault client per settings per process, and the one place where hvac and
requests errors become vendorgate errors."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar

from vendorgate._errors import (
    SecretError,
    SecretNotFoundError,
    VaultAuthError,
    VaultError,
    VaultPermissionError,
    VaultTransportError,
    VaultUnavailableError,
)
from vendorgate._retry import tls_advice, tls_problem
from vendorgate._secret import Secret, redact_text

if TYPE_CHECKING:
    from collections.abc import Callable

    import hvac

    from vendorgate.secrets._ref import SecretRef
    from vendorgate.secrets._settings import VaultSettings

__all__ = ["MAX_VAULT_REPLY_BYTES", "VaultSession", "vault_error_from"]

_log = logging.getLogger("vendorgate.secrets")
T = TypeVar("T")

#: Renew a renewable token once this fraction of its TTL has passed.
RENEW_AFTER_RATIO: Final = 2 / 3

#: The largest Vault reply read, in (decoded) bytes: 4 MiB. A KV secret, a transit
#: signature or a login reply is a few KB; Vault's integrated storage keeps entries under
#: 1 MiB, so 4 MiB leaves room for JSON escaping. A larger reply is not Vault (a wrong
#: ``VAULT_ADDR``, a broken proxy) and reading stops there, with a
#: :class:`~vendorgate.VaultUnavailableError`.
MAX_VAULT_REPLY_BYTES: Final = 4 * 1024 * 1024


def vault_error_from(
    exc: BaseException, *, action: str, login: bool = False, known: tuple[str, ...] = ()
) -> SecretError:
    """Translate an hvac / requests / decoding error into the vendorgate hierarchy.

    This is the only place that looks at third-party Vault errors. The message names the
    action (e.g. ``"read vault:secret/x#k"``) and Vault's own error text, redacted; it
    never contains a token, secret id or secret value.

    Args:
        exc: The exception raised by hvac or requests.
        action: What was being done, for the message.
        login: ``True`` when the request was a login: 400/401/403 become
            :class:`VaultAuthError` instead of a permission error.
        known: Secret values to mask in Vault's error text (in every encoding), e.g. the
            login secret that was sent.
    """
    import hvac.exceptions as hv
    import requests

    from vendorgate.secrets._transport import ReplyTooLarge

    if isinstance(exc, ReplyTooLarge):
        return VaultUnavailableError(
            f"Vault's reply during {action} ({exc.where}) is larger than {_size(exc.limit)} "
            "(MAX_VAULT_REPLY_BYTES): not a Vault reply, so it was not read; check "
            "VAULT_ADDR points at Vault (not a proxy or another service)"
        )
    detail = ""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        detail = redact_text("; ".join(str(e) for e in errors), limit=160, known=known)
    suffix = f" (Vault said: {detail})" if detail else ""
    if isinstance(exc, (hv.InvalidRequest, hv.Unauthorized, hv.Forbidden)) and login:
        return VaultAuthError(
            f"Vault login failed for {action}{suffix}; check the role, secret id, JWT or token"
        )
    if isinstance(exc, hv.Forbidden):
        return VaultPermissionError(
            f"Vault denied {action}{suffix}; grant the identity's policy read (KV) or update "
            "(transit sign) capability on this path"
        )
    if isinstance(exc, hv.Unauthorized):
        return VaultAuthError(f"Vault refused the credentials for {action}{suffix}")
    if isinstance(exc, hv.InvalidPath):
        return SecretNotFoundError(f"nothing at the Vault path for {action}{suffix}")
    if isinstance(exc, hv.VaultDown):
        return VaultUnavailableError(f"Vault is sealed or down during {action}; unseal it or retry")
    if isinstance(
        exc,
        (
            hv.InternalServerError,
            hv.BadGateway,
            hv.VaultNotInitialized,
            hv.RateLimitExceeded,
            hv.UnexpectedError,
        ),
    ):
        return VaultUnavailableError(f"Vault failed during {action}{suffix}; retry later")
    if isinstance(exc, hv.VaultError):
        return VaultError(f"Vault rejected {action}{suffix}")
    if isinstance(exc, requests.exceptions.SSLError) or tls_problem(exc) is not None:
        advice = tls_advice(tls_problem(exc) or "tls")
        return VaultTransportError(
            f"TLS with Vault failed during {action}: {advice} (for Vault also VAULT_CACERT)",
            vendor="vault",
        )
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return VaultTransportError(
            f"cannot reach Vault during {action} ({type(exc).__name__}); check VAULT_ADDR "
            "and that Vault is running",
            vendor="vault",
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return VaultUnavailableError(f"HTTP error talking to Vault during {action}")
    return VaultUnavailableError(
        f"Vault answered something that is not a Vault reply during {action}; "
        "check VAULT_ADDR points at Vault"
    )


def _size(limit: int) -> str:
    """``limit`` in the largest whole unit: ``"4 MiB"``, ``"256 KiB"``, ``"100 bytes"``."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit:,} bytes"


def _as_dict(result: object, action: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise VaultUnavailableError(
            f"Vault answered something that is not a Vault reply during {action}; "
            "check VAULT_ADDR points at Vault"
        )
    return result


class VaultSession:
    """A logged-in hvac client for one :class:`VaultSettings`, shared within a process.

    The session logs in once, renews its token (``renew-self``) once
    :data:`RENEW_AFTER_RATIO` of the TTL has passed when the token is renewable, and logs
    in again when renewal fails or the token expired. It never logs in per call. All
    methods are thread-safe. Use :meth:`shared` rather than the constructor.

    Attributes:
        settings: The settings this session was built from.
        login_count: How many times this session authenticated (a login to the auth
            method, or for token auth the first lookup that validates the token).
    """

    _shared: dict[VaultSettings, VaultSession] = {}
    _shared_lock = threading.Lock()
    #: Monotonic clock used for TTL bookkeeping (tests replace it on an instance).
    _clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, settings: VaultSettings) -> None:
        self.settings = settings
        self.login_count = 0
        self._lock = threading.RLock()
        self._client: hvac.Client | None = None
        self._logged_in_at = 0.0
        self._ttl_s = 0.0  # 0 = never expires
        self._renewable = False
        self._kv_mounts: dict[str, int] = {}  # mount path ("secret/") -> KV version

    @classmethod
    def shared(cls, settings: VaultSettings) -> VaultSession:
        """Return the process-wide session for ``settings``, creating it on first use."""
        with cls._shared_lock:
            session = cls._shared.get(settings)
            if session is None:
                session = cls._shared[settings] = cls(settings)
            return session

    @classmethod
    def clear_shared(cls) -> None:
        """Forget every shared session (tests, or after forking)."""
        with cls._shared_lock:
            cls._shared.clear()

    def __repr__(self) -> str:
        return f"VaultSession(url={self.settings.url!r}, auth={self.settings.auth_method!r})"

    # -- login and renewal ----------------------------------------------------------------

    def _new_client(self) -> hvac.Client:
        import hvac

        s = self.settings
        from vendorgate.secrets._transport import capped_session

        cert = (s.client_cert, s.client_key) if s.client_cert and s.client_key else None
        client = hvac.Client(
            url=s.url, verify=s.verify, cert=cert, timeout=s.timeout_s, namespace=s.namespace
        )
        capped_session(client.session, MAX_VAULT_REPLY_BYTES)
        return client

    def _resolve_login_secret(self, value: Secret | None, ref: str | None, field: str) -> Secret:
        """The login secret, still wrapped: callers reveal it inside the call that sends it,
        so no frame local of the login holds it (tracebacks captured with locals)."""
        if value is not None:
            return value
        from vendorgate.secrets._resolver import resolve_local

        assert ref is not None  # checked by VaultSettings
        return resolve_local(ref, field=f"vault.{field}")

    def _login_secret_values(self) -> tuple[str, ...]:
        """Every login secret value, for redacting Vault's error text (error path only)."""
        s = self.settings
        out: list[str] = []
        for value, ref, name in (
            (s.token, s.token_ref, "token"),
            (s.secret_id, s.secret_id_ref, "secret_id"),
            (s.jwt, s.jwt_ref, "jwt"),
        ):
            if value is None and ref is None:
                continue
            with contextlib.suppress(Exception):  # unreadable secret: nothing to mask
                out.append(self._resolve_login_secret(value, ref, name).reveal())
        return tuple(out)

    def _login(self) -> None:
        s = self.settings
        client = self._new_client()
        mount = s.effective_mount_point
        action = f"login with auth method {s.auth_method!r} at auth/{mount}"
        try:
            if s.auth_method == "token":
                client.token = self._resolve_login_secret(s.token, s.token_ref, "token").reveal()
                data = _as_dict(client.auth.token.lookup_self(), action)["data"]
                ttl, renewable = float(data.get("ttl") or 0), bool(data.get("renewable"))
            else:
                if s.auth_method == "approle":
                    secret_id = self._resolve_login_secret(
                        s.secret_id, s.secret_id_ref, "secret_id"
                    )
                    reply = client.auth.approle.login(
                        role_id=s.role_id, secret_id=secret_id.reveal(), mount_point=mount
                    )
                elif s.auth_method == "kubernetes":
                    jwt = self._resolve_login_secret(s.jwt, s.jwt_ref, "jwt")
                    reply = client.auth.kubernetes.login(
                        role=s.role, jwt=jwt.reveal().strip(), mount_point=mount
                    )
                else:
                    jwt = self._resolve_login_secret(s.jwt, s.jwt_ref, "jwt")
                    reply = client.auth.jwt.jwt_login(
                        role=s.role, jwt=jwt.reveal().strip(), path=mount
                    )
                auth = _as_dict(reply, action).get("auth") or {}
                if not auth.get("client_token"):
                    raise VaultAuthError(f"Vault gave no token for {action}")
                client.token = auth["client_token"]
                ttl, renewable = float(auth.get("lease_duration") or 0), bool(auth.get("renewable"))
        except VaultError:
            raise
        except Exception as exc:
            raise vault_error_from(
                exc, action=action, login=True, known=self._login_secret_values()
            ) from exc
        self._client = client
        self._logged_in_at = self._clock()
        self._ttl_s = ttl
        self._renewable = renewable
        self.login_count += 1
        _log.debug("vault login (%s) ok, ttl %.0fs, renewable %s", s.auth_method, ttl, renewable)

    def _can_login_again(self) -> bool:
        return self.settings.auth_method != "token"

    def _renew(self) -> bool:
        assert self._client is not None
        remaining = self._ttl_s - (self._clock() - self._logged_in_at)
        try:
            reply = _as_dict(self._client.auth.token.renew_self(), "token renewal")
            ttl = float((reply.get("auth") or {}).get("lease_duration") or 0)
        except Exception as exc:
            _log.info("vault token renewal failed (%s)", type(exc).__name__)
            return False
        self._logged_in_at = self._clock()
        if ttl <= remaining * 1.05:
            # Capped by the token's max TTL: renewing again gains nothing; log in at expiry.
            self._renewable = False
        self._ttl_s = ttl
        return True

    def health_status(self) -> int:
        """HTTP status of Vault's ``sys/health``, asked without logging in.

        Uses this session's TLS verification, client certificate and namespace. 200 means
        active and unsealed, 429/472/473 a standby, 501 not initialised, 503 sealed.

        Raises:
            VaultUnavailableError: Vault cannot be reached (connection, TLS, timeout).
        """
        action = f"check sys/health at {self.settings.url}"
        try:
            reply = self._new_client().adapter.get("/v1/sys/health", raise_exception=False)
        except Exception as exc:
            raise vault_error_from(exc, action=action) from exc
        return 200 if isinstance(reply, dict) else int(reply.status_code)

    def client(self) -> hvac.Client:
        """Return the logged-in hvac client, logging in or renewing first when due."""
        with self._lock:
            if self._client is None:
                self._login()
            elif self._ttl_s > 0:
                age = self._clock() - self._logged_in_at
                margin = min(10.0, self._ttl_s / 10)
                if age >= self._ttl_s - margin:
                    if not self._can_login_again():
                        raise VaultAuthError(
                            "the Vault token has expired; give a fresh token (VAULT_TOKEN)"
                        )
                    self._login()
                elif (
                    age >= self._ttl_s * RENEW_AFTER_RATIO
                    and self._renewable
                    and not self._renew()
                    and self._can_login_again()
                ):
                    self._login()
            assert self._client is not None
            return self._client

    def token_is_valid(self) -> bool:
        """Whether Vault still accepts this session's token (one ``lookup-self`` call)."""
        with self._lock:
            if self._client is None:
                return False
            try:
                self._client.auth.token.lookup_self()
            except Exception:
                return False
            return True

    # -- calls ------------------------------------------------------------------------------

    def call(self, fn: Callable[[hvac.Client], T], *, action: str) -> T:
        """Run ``fn(client)`` with errors mapped to the hierarchy.

        On "permission denied", checks once whether the token itself was revoked or
        expired; if so (and the auth method can log in again) logs in again and retries
        once, otherwise raises :class:`VaultPermissionError`.

        Args:
            fn: A function of the hvac client doing one request.
            action: What the call does, for error messages (no secret in it).
        """
        import hvac.exceptions as hv

        for attempt in (1, 2):
            client = self.client()
            try:
                return fn(client)
            except hv.Forbidden as exc:
                if attempt == 1 and self._can_login_again() and not self.token_is_valid():
                    with self._lock:
                        self._login()
                    continue
                raise vault_error_from(exc, action=action) from exc
            except SecretError:
                raise
            except Exception as exc:
                raise vault_error_from(exc, action=action) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def kv_version(self, target: str, *, reference: str | None = None) -> tuple[str, int]:
        """Return ``(mount, version)`` of the KV mount holding ``target`` (``mount/path``).

        Asks ``sys/internal/ui/mounts/<target>``, which every token may call for paths it
        has access to; falls back to the first path segment and KV v2 when not allowed.

        Args:
            target: ``<mount>/<path>``.
            reference: The secret reference being read, named in errors (never a value).
        """
        for mount, version in self._kv_mounts.items():
            if target.startswith(mount + "/"):
                return mount, version
        try:
            reply = self.call(
                lambda c: c.adapter.get(f"/v1/sys/internal/ui/mounts/{target}"),
                action=f"detect the KV version of {reference or 'vault:' + target}",
            )
            data = _as_dict(reply, "KV version detection").get("data") or {}
            mount = str(data.get("path") or "").strip("/")
            options = data.get("options") or {}
            version = 2 if str(options.get("version") or "1") == "2" else 1
            if not mount or not target.startswith(mount + "/"):
                raise ValueError("no mount")
        except VaultUnavailableError:
            raise
        except (SecretError, ValueError):
            mount, version = target.split("/", 1)[0], 2
        self._kv_mounts[mount] = version
        return mount, version

    def read_secret(self, ref: SecretRef) -> Secret:
        """Read one key of a KV secret.

        Args:
            ref: A ``vault:`` reference.

        Raises:
            SecretNotFoundError: No secret at the path, or no such key (the message names
                the reference and the keys that exist, never a value).
            VaultPermissionError: The policy does not allow reading the path.
            VaultUnavailableError: Vault is sealed, unreachable or answered garbage.
        """
        if ref.kv_version is None:
            mount, version = self.kv_version(ref.target, reference=str(ref))
        else:
            mount, version = ref.mount, ref.kv_version
        path = ref.target[len(mount) + 1 :]
        action = f"read {ref}"
        try:
            if version == 2:
                reply = self.call(
                    lambda c: c.secrets.kv.v2.read_secret_version(
                        path=path,
                        version=ref.version,
                        mount_point=mount,
                        raise_on_deleted_version=True,
                    ),
                    action=action,
                )
                data = (_as_dict(reply, action).get("data") or {}).get("data")
            else:
                reply = self.call(
                    lambda c: c.secrets.kv.v1.read_secret(path=path, mount_point=mount),
                    action=action,
                )
                data = _as_dict(reply, action).get("data")
        except SecretNotFoundError:
            raise SecretNotFoundError(
                f"{ref}: no secret at {mount}/{path}"
                + (f" version {ref.version}" if ref.version else "")
                + f" (KV v{version}); write it or fix the reference"
            ) from None
        if not isinstance(data, dict):
            raise SecretNotFoundError(f"{ref}: the secret at {mount}/{path} holds no data")
        if ref.key not in data:
            keys = ", ".join(sorted(str(k) for k in data)[:10]) or "none"
            raise SecretNotFoundError(
                f"{ref}: no key {ref.key!r} in the secret at {mount}/{path} (keys: {keys})"
            )
        value = data[ref.key]
        return Secret(value if isinstance(value, str) else json.dumps(value))

    def transit_read_key(self, mount: str, name: str) -> dict[str, Any]:
        """Return the ``data`` of Transit ``<mount>/keys/<name>`` (type, versions, public keys).

        Raises:
            SecretNotFoundError: The key does not exist.
        """
        action = f"read transit key {mount}/keys/{name}"
        try:
            reply = self.call(
                lambda c: c.secrets.transit.read_key(name=name, mount_point=mount), action=action
            )
        except SecretNotFoundError:
            raise SecretNotFoundError(
                f"no Transit key {name!r} at mount {mount!r}; create it with "
                f"`bao write -f {mount}/keys/{name} type=rsa-2048` or fix the key name"
            ) from None
        data = _as_dict(reply, action).get("data")
        return _as_dict(data, action)

    def transit_sign(
        self,
        mount: str,
        name: str,
        data: bytes,
        *,
        key_version: int | None = None,
        signature_algorithm: str | None = None,
        marshaling_algorithm: str | None = None,
        salt_length: str | None = None,
    ) -> str:
        """Sign ``data`` with Transit ``<mount>/sign/<name>/sha2-256``; return ``vault:vN:...``."""
        import base64

        action = f"sign with transit key {mount}/sign/{name}"
        params: dict[str, Any] = {
            "hash_input": base64.b64encode(data).decode("ascii"),
            "hash_algorithm": "sha2-256",
            "prehashed": False,
        }
        if key_version is not None:
            params["key_version"] = key_version
        if signature_algorithm:
            params["signature_algorithm"] = signature_algorithm
        if marshaling_algorithm:
            params["marshaling_algorithm"] = marshaling_algorithm
        if salt_length:
            params["salt_length"] = salt_length
        try:
            reply = self.call(
                lambda c: c.secrets.transit.sign_data(name=name, mount_point=mount, **params),
                action=action,
            )
        except SecretNotFoundError:
            raise SecretNotFoundError(f"no Transit key {name!r} at mount {mount!r}") from None
        signature = (_as_dict(reply, action).get("data") or {}).get("signature")
        if not isinstance(signature, str) or not signature.startswith("vault:v"):
            raise VaultUnavailableError(f"Vault returned no signature for {action}")
        return signature
