"""The raw ASGI application: routing, the fault layer, and the ``/_sandbox/`` control API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

from vendorgate._errors import ConfigurationError
from vendorgate.testing.sandbox._clients import (
    AUDIENCES,
    TOKEN_PATHS,
    VENDORS,
    tci_application_id,
    vendor_for,
)
from vendorgate.testing.sandbox._data import handle_api
from vendorgate.testing.sandbox._http import BadRequest, Reply, Request, json_reply
from vendorgate.testing.sandbox._vendors import TOKEN_HANDLERS

if TYPE_CHECKING:
    from vendorgate.testing.sandbox._state import FaultDecision, SandboxState

__all__ = ["TRANSPORT_EXTENSION", "SandboxApp", "sandbox_config"]

logger = logging.getLogger("vendorgate.testing.sandbox")

#: ASGI scope extension under which the sandbox's protocol exposes the transport.
TRANSPORT_EXTENSION: Final = "vendorgate.transport"

_MAX_BODY: Final = 1 << 20
_PING_BODY: Final = b'{"ok":true}'
_HTML: Final = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Proxy login</body></html>"
)
_JWKS_PATH: Final = "/tci/auth/.well-known/jwks.json"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def sandbox_config(base_url: str, state: SandboxState) -> dict[str, Any]:
    """The JSON document ``vendorgate sandbox --print-config`` prints.

    It holds the demo credentials of this sandbox: they are only good against it.
    """
    vendors: dict[str, Any] = {}
    for vendor in VENDORS:
        demo = state.clients.get((vendor, "demo-client"))
        entry: dict[str, Any] = {
            "token_url": base_url + TOKEN_PATHS[vendor],
            "api_url": f"{base_url}/{vendor}/api",
            "audience": AUDIENCES.get(vendor),
            "client_id": "demo-client",
            "client_secret": demo.client_secret if demo else None,
        }
        if vendor.startswith("techwolf"):
            entry["tenant"] = "demo-tenant"
            entry["jwt_client_id"] = "demo-jwt-client"
        if vendor == "oauth2":
            entry["jwt_client_id"] = "demo-jwt-client"
        if vendor == "tci":
            entry["jwks_url"] = base_url + _JWKS_PATH
            entry["application_id"] = tci_application_id("demo-client")
        if vendor == "wokelo" and demo is not None:
            entry["username"] = demo.username
            entry["password"] = demo.password
        vendors[vendor] = entry
    return {
        "url": base_url,
        "ping_url": base_url + "/ping",
        "vendors": vendors,
        "presets": _preset_entries(vendors),
        "demo_private_key_pem": state.demo_private_key_pem,
        "dataset_size": state.dataset_size,
        "record_bytes": state.record_bytes,
    }


# vendorgate's built-in preset names, written out: the sandbox never imports the token
# code it checks (tests/cli/test_cli_sandbox_presets.py keeps the list in step).
BUILTIN_PRESETS: Final = (
    "lonewolf",
    "oauth2-basic",
    "oauth2-post",
    "oauth2-private-key-jwt",
    "tci-atm",
    "techwolf-eu",
    "techwolf-us",
    "wokelo",
)


def _preset_entries(vendors: dict[str, Any]) -> dict[str, Any]:
    """The vendors' demo settings again, keyed by the built-in preset that speaks to them.

    ``config["presets"]["tci-atm"]`` holds exactly what ``vendorgate token --preset
    tci-atm`` needs; the private_key_jwt preset's entry names the key-pair client
    (its private key is ``demo_private_key_pem``).
    """
    presets: dict[str, Any] = {}
    for preset in BUILTIN_PRESETS:
        entry = dict(vendors[vendor_for(preset)])
        jwt_client = entry.pop("jwt_client_id", None)
        if preset == "oauth2-private-key-jwt":
            entry["client_id"] = jwt_client
            entry["client_secret"] = None
        presets[preset] = entry
    return presets


def _not_found(path: str) -> Reply:
    hint = ""
    if path == "/wokelo/auth/token":
        hint = ": the Wokelo token path ends with a slash, /wokelo/auth/token/"
    return json_reply(404, {"error": "not_found", "error_description": f"no route {path}{hint}"})


async def _pause(seconds: float, transport: Any) -> None:
    """Sleep ``seconds``, in short steps that end early once the client went away."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        if transport is not None and transport.is_closing():
            return
        await asyncio.sleep(min(left, 0.05))


def _replaced(reply: Reply, decision: FaultDecision) -> Reply:
    """The real reply, or the one the ``reply_body`` / ``huge_body_bytes`` faults ask for."""
    if decision.reply_body is not None:
        headers = {k.lower(): v for k, v in decision.reply_headers.items()}
        content_type = headers.pop("content-type", "application/json")
        return Reply(
            decision.reply_status,
            decision.reply_body.encode(),
            content_type=content_type.encode("latin-1"),
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        )
    if decision.huge_body_bytes:
        pad = max(0, decision.huge_body_bytes - len('{"pad": ""}'))
        return Reply(200, b'{"pad": "' + b"x" * pad + b'"}')
    return reply


class SandboxApp:
    """ASGI 3 application serving every vendor of the sandbox.

    Args:
        state: The shared state (clients, tokens, faults, counters).
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        state = self.state
        path: str = scope["path"]
        if path == "/ping" and not state.faults_active:
            state.requests += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"11"),
                        (b"x-request-id", state.next_request_id().encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _PING_BODY})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > _MAX_BODY:
                await self._send(send, json_reply(413, {"error": "request_too_large"}), None)
                return
        request = Request(
            method=scope["method"],
            path=path,
            query_string=scope.get("query_string", b""),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=body,
            scheme=scope.get("scheme", "http"),
            server=scope.get("server"),
        )
        if path.startswith("/_sandbox/"):
            await self._send(send, self._admin(request), None)
            return
        state.requests += 1
        is_token = path in TOKEN_HANDLERS
        decision = state.decide(path, is_token=is_token) if state.faults_active else None
        if decision is not None:
            if decision.latency_s:
                await asyncio.sleep(decision.latency_s)
            if decision.status is not None:
                headers = []
                if decision.retry_after is not None:
                    headers.append((b"retry-after", decision.retry_after.encode()))
                headers.extend(decision.headers)
                reply = json_reply(
                    decision.status,
                    {
                        "error": "injected_fault",
                        "error_description": f"sandbox fault {decision.status}",
                    },
                    headers,
                )
                await self._send(send, reply, None)
                return
            if decision.reset and not decision.reset_mid_body:
                await self._reset(scope)
                return
        reply = self._route(request, is_token, decision)
        if decision is not None:
            reply = _replaced(reply, decision)
        await self._send(send, reply, decision, scope)

    def _route(self, request: Request, is_token: bool, decision: FaultDecision | None) -> Reply:
        path = request.path
        try:
            if is_token:
                vendor, handler = TOKEN_HANDLERS[path]
                if request.method != "POST":
                    raise BadRequest(
                        405,
                        {"error": "method_not_allowed", "error_description": "use POST"},
                        [(b"allow", b"POST")],
                    )
                if decision is not None and decision.html_token:
                    return Reply(200, _HTML, content_type=b"text/html; charset=utf-8")
                return handler(self.state, request)
            if path == "/ping":
                return Reply(200, _PING_BODY)
            if path == _JWKS_PATH:
                return json_reply(200, self.state.tci_jwks(), [(b"cache-control", b"max-age=300")])
            parts = path.split("/", 3)  # "", vendor, "api" | "version", route
            if len(parts) >= 3 and parts[1] in VENDORS:
                vendor = parts[1]
                if len(parts) == 4 and parts[2] == "api":
                    return handle_api(self.state, request, vendor, parts[3])
                if len(parts) == 3 and parts[2] == "version" and vendor.startswith("techwolf"):
                    return handle_api(self.state, request, vendor, "version")
            return _not_found(path)
        except BadRequest as exc:
            return exc.reply
        except Exception:
            logger.exception("sandbox handler failed for %s %s", request.method, path)
            return json_reply(500, {"error": "server_error", "error_description": "sandbox bug"})

    def _admin(self, request: Request) -> Reply:
        op = request.path[len("/_sandbox/") :].strip("/")
        try:
            if request.method == "GET":
                if op == "config":
                    return json_reply(200, sandbox_config(request.base_url, self.state))
                if op == "faults":
                    op = "get_faults"
                if op not in ("counters", "get_faults", "reports", "issued_tokens"):
                    raise ConfigurationError(
                        "GET serves config, counters, faults, reports and issued_tokens",
                        field="op",
                    )
                return json_reply(200, self.state.admin(op, {}))
            if request.method == "DELETE" and op == "faults":
                return json_reply(200, self.state.admin("clear_faults", {}))
            if request.method != "POST":
                raise ConfigurationError("use GET, POST or DELETE", field="method")
            payload: Any = json.loads(request.body) if request.body.strip() else {}
            if not isinstance(payload, dict):
                raise ConfigurationError("must be a JSON object", field="body")
            return json_reply(200, self.state.admin(op, payload))
        except ConfigurationError as exc:
            return json_reply(
                400, {"error": "invalid_request", "error_description": str(exc), "field": exc.field}
            )
        except (ValueError, TypeError) as exc:
            return json_reply(400, {"error": "invalid_request", "error_description": str(exc)})

    async def _reset(self, scope: Scope) -> None:
        import socket
        import struct

        transport = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
        with self.state.lock:
            self.state.resets += 1
        if transport is None:  # not served by VendorSandbox's protocol
            raise ConnectionAbortedError("sandbox fault: connection reset")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        # Let the server see the connection loss before the app returns, so that it
        # neither answers 500 nor logs an incomplete response.
        for _ in range(3):
            await asyncio.sleep(0)

    async def _send(
        self,
        send: Send,
        reply: Reply,
        decision: FaultDecision | None,
        scope: Scope | None = None,
    ) -> None:
        state = self.state
        status = reply.status
        if status == 429 or status >= 500:
            state.count_status(status)
        body = reply.body
        if decision is not None and decision.truncate and reply.is_json and len(body) > 1:
            body = body[: len(body) // 2]
            with state.lock:
                state.truncated += 1
        headers = [
            (b"content-type", reply.content_type),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", state.next_request_id().encode()),
            *reply.headers,
        ]
        if decision is not None and decision.headers:
            headers.extend(decision.headers)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if (
            decision is not None
            and decision.reset
            and decision.reset_mid_body
            and scope is not None
        ):
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            await self._reset(scope)
            return
        if decision is not None and decision.drip_s > 0 and body:
            step = decision.drip_bytes
            transport = (scope or {}).get("extensions", {}).get(TRANSPORT_EXTENSION)
            for start in range(0, len(body), step):
                if transport is not None and transport.is_closing():
                    return  # the client gave up: stop dripping
                await send(
                    {
                        "type": "http.response.body",
                        "body": body[start : start + step],
                        "more_body": start + step < len(body),
                    }
                )
                if start + step < len(body):
                    await _pause(decision.drip_s, transport)
            return
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
