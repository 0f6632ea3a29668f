"""Running the sandbox: in a background thread, in the foreground (CLI), or in a subprocess."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from vendorgate._errors import ConfigurationError, VendorgateError
from vendorgate._secret import Secret
from vendorgate.secrets._resolver import SecretValue, secret_value
from vendorgate.testing._process import die_with_parent_preexec
from vendorgate.testing.sandbox._app import TRANSPORT_EXTENSION, SandboxApp, sandbox_config
from vendorgate.testing.sandbox._clients import (
    AUDIENCES,
    DEMO_TENANT,
    TOKEN_PATHS,
    SandboxClient,
    vendor_for,
)
from vendorgate.testing.sandbox._faults import Counters, Faults
from vendorgate.testing.sandbox._state import SandboxState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import TracebackType

    import httpx

__all__ = ["VendorSandbox", "build_server"]


def _format_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_server(
    app: SandboxApp, host: str, port: int, *, on_ready: Callable[[str], None] | None = None
) -> Any:
    """Build a uvicorn server (httptools, no access log) for the sandbox app.

    The server calls ``on_ready(url)`` once it listens. Run from the main thread, it
    stops on SIGINT or SIGTERM (and does not re-raise the signal, so the process exits 0).
    """
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class _Protocol(HttpToolsProtocol):
        """Exposes the transport to the app, for the connection-reset fault."""

        def on_message_begin(self) -> None:
            super().on_message_begin()
            extensions: dict[str, Any] = {TRANSPORT_EXTENSION: self.transport}
            self.scope["extensions"] = extensions

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_ready is not None:
                bound = self.servers[0].sockets[0].getsockname()[1]
                on_ready(_format_url(host, bound))

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return

            def handle(sig: int, frame: object) -> None:
                if self.should_exit:
                    self.force_exit = True
                self.should_exit = True

            sigs = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, handle) for sig in sigs}
            try:
                yield
            finally:
                for sig, previous in original.items():
                    signal.signal(sig, previous)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_Protocol,
        loop="auto",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=2,
    )
    return _Server(config)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


class VendorSandbox:
    """A local HTTP server speaking the five vendor token dialects and a paginated data API.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`)::

        with VendorSandbox(dataset_size=250) as sb:
            sb.token_url("lonewolf")   # 'http://127.0.0.1:PORT/lonewolf/oauth/token'

    With ``process=True`` it runs ``python -m vendorgate.testing.sandbox`` in a subprocess
    instead of a thread, and every method below goes over the ``/_sandbox/`` HTTP control
    endpoints; worker processes of a benchmark can then share it.

    Args:
        host: Interface to listen on.
        port: TCP port; 0 picks a free one.
        dataset_size: Number of records of the data API.
        record_bytes: Approximate JSON size of one record.
        process: Run in a subprocess instead of a background thread.
        startup_timeout_s: How long :meth:`start` waits for the server to answer.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dataset_size: int = 1000,
        record_bytes: int = 200,
        process: bool = False,
        startup_timeout_s: float = 30.0,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError("must be an integer 0..65535 (0: a free port)", field="port")
        if not isinstance(dataset_size, int) or dataset_size < 0:
            raise ConfigurationError("must be an integer >= 0", field="dataset_size")
        if not isinstance(record_bytes, int) or record_bytes < 0:
            raise ConfigurationError("must be an integer >= 0", field="record_bytes")
        self.host = host
        self.port = port
        self.dataset_size = dataset_size
        self.record_bytes = record_bytes
        self.process = process
        self.startup_timeout_s = startup_timeout_s
        self._url: str | None = None
        self._state: SandboxState | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._http: httpx.Client | None = None
        self._config: dict[str, Any] | None = None

    def __repr__(self) -> str:
        mode = "process" if self.process else "thread"
        return f"VendorSandbox(url={self._url!r}, mode={mode!r})"

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (only while running)."""
        if self._url is None:
            raise VendorgateError("the sandbox is not running: call start() or use 'with'")
        return self._url

    @property
    def pid(self) -> int | None:
        """Process id of the subprocess (``process=True``), else ``None``."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the sandbox is started."""
        return self._url is not None

    def start(self) -> VendorSandbox:
        """Start the server and wait until it listens; return ``self``.

        Raises:
            ConfigurationError: The port is taken or the server did not come up.
        """
        if self._url is not None:
            return self
        if self.process:
            self._start_process()
        else:
            self._start_thread()
        return self

    def _start_thread(self) -> None:
        state = SandboxState(dataset_size=self.dataset_size, record_bytes=self.record_bytes)
        ready = threading.Event()
        urls: list[str] = []

        def on_ready(url: str) -> None:
            urls.append(url)
            ready.set()

        server = build_server(SandboxApp(state), self.host, self.port, on_ready=on_ready)
        thread = threading.Thread(target=server.run, name="vendorgate-sandbox", daemon=True)
        thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not ready.wait(0.05):
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(5)
                raise ConfigurationError(
                    f"the sandbox could not listen on {self.host}:{self.port}; "
                    "choose another port (0 picks a free one)",
                    field="port",
                )
        self._state, self._server, self._thread = state, server, thread
        self._url = urls[0]

    def _start_process(self) -> None:
        import selectors

        import httpx

        cmd = [
            sys.executable,
            "-m",
            "vendorgate.testing.sandbox",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--dataset-size",
            str(self.dataset_size),
            "--record-bytes",
            str(self.record_bytes),
            "--print-config",
        ]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent_preexec(),  # no orphan if this process is killed hard
        )
        self._finalizer = weakref.finalize(self, _terminate, proc)
        assert proc.stdout is not None
        line = b""
        deadline = time.monotonic() + self.startup_timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or proc.poll() is not None:
                    break
                if sel.select(min(remaining, 0.5)):
                    chunk = proc.stdout.readline()
                    if not chunk:
                        break
                    line += chunk
        try:
            config = json.loads(line)
            url = config["url"]
        except (ValueError, KeyError, TypeError):
            self._finalizer()
            raise ConfigurationError(
                f"the sandbox subprocess did not start on {self.host}:{self.port} "
                f"(exit code {proc.poll()}); see its stderr",
                field="port",
            ) from None
        self._proc, self._config, self._url = proc, config, url
        self._http = httpx.Client(base_url=url, timeout=30.0)

    def stop(self) -> None:
        """Stop the server (idempotent); in-process state is discarded."""
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(15)
        if self._http is not None:
            self._http.close()
        if self._finalizer is not None:
            self._finalizer()
        self._server = self._thread = self._proc = self._http = self._finalizer = None
        self._url = None
        self._state = None
        self._config = None

    def __enter__(self) -> VendorSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ control plumbing
    def _admin(self, op: str, payload: Mapping[str, Any] | None = None) -> Any:
        if self._state is not None:
            return self._state.admin(op, payload or {})
        if self._http is None:
            raise VendorgateError("the sandbox is not running: call start() or use 'with'")
        if op in ("counters", "get_faults", "reports", "issued_tokens"):
            response = self._http.get("/_sandbox/" + ("faults" if op == "get_faults" else op))
        else:
            response = self._http.post(f"/_sandbox/{op}", json=dict(payload or {}))
        data = response.json()
        if response.status_code == 400:
            raise ConfigurationError(data.get("error_description", "bad request"))
        response.raise_for_status()
        return data

    # ------------------------------------------------------------------ addresses
    def token_url(self, preset: str) -> str:
        """Token endpoint URL for a vendor or preset name (``"tci"``, ``"oauth2-post"``)."""
        return self.url + TOKEN_PATHS[vendor_for(preset)]

    def api_url(self, preset: str) -> str:
        """Base URL of the vendor's data API (``.../{vendor}/api``)."""
        return f"{self.url}/{vendor_for(preset)}/api"

    def reports_url(self, preset: str) -> str:
        """URL of the vendor's asynchronous report jobs (``.../{vendor}/api/reports``).

        ``POST`` creates a job; ``GET {url}/{id}`` polls it; ``GET {url}/{id}/download``
        returns its records once a poll answered ``ready``.
        """
        return self.api_url(preset) + "/reports"

    def audience(self, preset: str) -> str | None:
        """The ``audience`` the vendor's token endpoint requires, or ``None``."""
        return AUDIENCES.get(vendor_for(preset))

    def jwks_url(self) -> str:
        """URL of the TCI JWKS document."""
        return self.url + "/tci/auth/.well-known/jwks.json"

    def config(self) -> dict[str, Any]:
        """The document ``vendorgate sandbox --print-config`` prints (URLs, demo credentials)."""
        if self._state is not None:
            return sandbox_config(self.url, self._state)
        assert self._config is not None, "not running"
        return dict(self._config)

    def demo_credentials(self, preset: str) -> dict[str, Any]:
        """The demo client's settings for a vendor: ``client_id``, ``client_secret``, ...

        Secrets are wrapped in :class:`~vendorgate.Secret`-style masks: call ``.reveal()``.
        """
        vendor = vendor_for(preset)
        entry = dict(self.config()["vendors"][vendor])
        for key in ("client_secret", "password"):
            if entry.get(key) is not None:
                entry[key] = Secret(entry[key])
        if vendor.startswith("techwolf"):
            entry.setdefault("tenant", DEMO_TENANT)
        return entry

    @property
    def demo_private_key_pem(self) -> Secret:
        """PEM private key of ``demo-jwt-client`` (TechWolf and generic OAuth 2.0)."""
        return Secret(self.config()["demo_private_key_pem"])

    # ------------------------------------------------------------------ clients and keys
    def add_client(
        self,
        vendor: str,
        client_id: str,
        *,
        client_secret: str | Secret | SecretValue | None = None,
        public_key_pem: str | None = None,
        username: str | None = None,
        password: str | Secret | SecretValue | None = None,
        scopes: Sequence[str] | None = None,
        auth_methods: Sequence[str] | None = None,
        tenants: Sequence[str] | None = None,
        public_jwks: Mapping[str, Any] | None = None,
    ) -> None:
        """Register (or replace) a client.

        Args:
            vendor: Vendor or preset name.
            client_id: The client id.
            client_secret: Shared secret, for secret-based methods.
            public_key_pem: PEM public key (RSA or EC P-256) for private_key_jwt.
            username: Resource owner, for Wokelo's password grant.
            password: Resource owner's password.
            scopes: Scopes the client may get (default: the vendor's full set).
            auth_methods: Allowed methods among ``client_secret_post``,
                ``client_secret_basic``, ``private_key_jwt``, ``password`` (default: all
                the given credentials allow).
            tenants: TechWolf tenants the client may use (default: any).
            public_jwks: A JWKS for private_key_jwt, keys registered by ``kid`` (as
                printed by ``vendorgate jwk --format jwks``): an assertion whose ``kid``
                names none of them is refused with 401 "no applicable key".

        Raises:
            ConfigurationError: A bad vendor, key or method; names the field.
        """

        def reveal(value: object, field: str) -> str | None:
            if value is None or isinstance(value, str):
                return value
            held = secret_value(value)  # a Secret, or a framework's (pydantic SecretStr)
            if held is None:
                raise ConfigurationError(
                    f"must be text, a vendorgate.Secret or a SecretStr, not {type(value).__name__}",
                    field=field,
                )
            return held.reveal()

        client = SandboxClient.build(
            vendor_for(vendor),
            client_id,
            client_secret=reveal(client_secret, "client_secret"),
            public_key_pem=public_key_pem,
            username=username,
            password=reveal(password, "password"),
            scopes=scopes,
            auth_methods=auth_methods,
            tenants=tenants,
            public_jwks=public_jwks,
        )
        self._admin("add_client", client.to_mapping())

    def rotate_tci_key(self, *, keep_old: bool = True) -> str:
        """Sign new TCI tokens with a new key; return its ``kid``.

        Args:
            keep_old: Keep publishing the previous keys in the JWKS.
        """
        kid: str = self._admin("rotate_tci_key", {"keep_old": keep_old})["kid"]
        return kid

    def revoke_token(self, token: str | Secret) -> int:
        """Revoke one access or refresh token; return how many were revoked (0 or 1)."""
        value = token.reveal() if isinstance(token, Secret) else token
        revoked: int = self._admin("revoke", {"token": value})["revoked"]
        return revoked

    def revoke_client(self, vendor: str, client_id: str) -> int:
        """Revoke every token issued so far to a client; return how many."""
        revoked: int = self._admin(
            "revoke", {"vendor": vendor_for(vendor), "client_id": client_id}
        )["revoked"]
        return revoked

    # ------------------------------------------------------------------ faults and counters
    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return Faults.from_mapping(self._admin("get_faults"))

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> Faults:
        """Set faults for the run and restart their request counting.

        ``set_faults(Faults(...))`` replaces all faults; ``set_faults(latency_ms=50)``
        changes only the named fields. Both together: the changes apply on top of
        ``faults``.

        Raises:
            ConfigurationError: An unknown field or a bad value; names the field.
        """
        if faults is None:
            payload: dict[str, Any] = {"replace": False, "faults": changes}
        else:
            payload = {"replace": True, "faults": {**faults.to_mapping(), **changes}}
        Faults.from_mapping(changes)  # validate here, with the field name
        return Faults.from_mapping(self._admin("faults", payload))

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._admin("clear_faults")

    def counters(self) -> Counters:
        """A snapshot of the counters since start or the last :meth:`reset`."""
        return Counters.from_mapping(self._admin("counters"))

    def reports(self) -> list[dict[str, Any]]:
        """The report jobs since start or the last :meth:`reset`, oldest first.

        Each is ``{"id", "vendor", "client_id", "name", "records", "status", "polls"}``.
        """
        jobs: list[dict[str, Any]] = self._admin("reports")
        return jobs

    def issued_tokens(
        self, vendor: str | None = None, client_id: str | None = None
    ) -> list[Secret]:
        """Every access, refresh and id token the sandbox handed out since it started.

        For leak scans (:class:`vendorgate.testing.leaks.LeakScanner`); :meth:`reset` does
        not forget them. Filter by vendor (or preset) name and client id.
        """
        want = vendor_for(vendor) if vendor is not None else None
        rows: list[dict[str, str]] = self._admin("issued_tokens")
        return [
            Secret(row["token"])
            for row in rows
            if (want is None or row["vendor"] == want)
            and (client_id is None or row["client_id"] == client_id)
        ]

    def grow(self, records: int) -> int:
        """Append ``records`` new records to the data set (ids continue); return its size.

        The data API's ``since_id`` parameter then returns only records with a larger
        id: the shape of an incremental pull (see ``docs/incremental.md``).
        """
        if not isinstance(records, int) or isinstance(records, bool) or records < 0:
            raise ConfigurationError("must be an integer >= 0", field="records")
        size: int = self._admin("grow", {"records": records})["dataset_size"]
        self.dataset_size = size
        return size

    def reset(self) -> None:
        """Clear faults, counters, revocations and report jobs; keep clients and tokens issued."""
        self._admin("reset")
