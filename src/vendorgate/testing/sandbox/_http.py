"""Tiny request/reply helpers for the raw ASGI sandbox (no web framework, for speed)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "BadRequest",
    "Reply",
    "Request",
    "json_reply",
    "parse_form",
]


@dataclass
class Request:
    """One HTTP request as the handlers see it."""

    method: str
    path: str
    query_string: bytes
    headers: dict[str, str]
    body: bytes = b""
    scheme: str = "http"
    server: tuple[str, int] | None = None
    _query: dict[str, str] | None = field(default=None, repr=False)

    @property
    def query(self) -> dict[str, str]:
        """Query parameters (last value wins)."""
        if self._query is None:
            parsed = parse_qs(self.query_string.decode("latin-1"), keep_blank_values=True)
            self._query = {k: v[-1] for k, v in parsed.items()}
        return self._query

    @property
    def host(self) -> str:
        """The ``Host`` the client used (falls back to the listening address)."""
        host = self.headers.get("host")
        if host:
            return host
        if self.server:
            return f"{self.server[0]}:{self.server[1]}"
        return "127.0.0.1"

    @property
    def base_url(self) -> str:
        """``scheme://host`` as the client sees the sandbox."""
        return f"{self.scheme}://{self.host}"

    @property
    def url(self) -> str:
        """The request URL without its query string, as the client sees it."""
        return self.base_url + self.path

    @property
    def media_type(self) -> str:
        """The ``Content-Type`` without parameters, lower-cased."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass
class Reply:
    """One HTTP reply."""

    status: int
    body: bytes
    content_type: bytes = b"application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def is_json(self) -> bool:
        """Whether the body is JSON."""
        return self.content_type.startswith(b"application/json")


class BadRequest(Exception):
    """Raised by handlers to answer a client mistake with a JSON error body."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(status)
        self.reply = json_reply(status, body, headers)


def json_reply(status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
    """A JSON reply."""
    return Reply(status, json.dumps(body, separators=(",", ":")).encode(), headers=headers or [])


def parse_form(request: Request) -> dict[str, str]:
    """Parse an urlencoded or multipart/form-data body into a flat dict.

    Raises:
        ValueError: The body does not parse.
    """
    media = request.media_type
    if media == "application/x-www-form-urlencoded":
        text = request.body.decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
        return {k: v[-1] for k, v in parsed.items()}
    if media == "multipart/form-data":
        from email.parser import BytesParser
        from email.policy import HTTP

        header = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=HTTP).parsebytes(header + request.body)
        if not message.is_multipart():
            raise ValueError("multipart body without parts")
        out: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                raise ValueError("multipart part without a name")
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                raise ValueError("multipart part without a body")
            out[name] = payload.decode("utf-8")
        if not out:
            raise ValueError("multipart body without fields")
        return out
    raise ValueError(f"unsupported content type {media!r}")
