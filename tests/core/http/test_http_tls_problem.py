"""How a TLS failure is told apart (certificate, hostname, other handshake failure, none),
whatever wraps it: httpx, requests and urllib3 chain the ssl error through ``__cause__``,
``__context__`` and ``args``. The verdict picks the error's words and makes it final."""

from __future__ import annotations

import ssl

import httpx
import pytest
import requests

from vendorgate._retry import tls_advice, tls_problem


def _verify(message: str) -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    err.verify_message = message
    return err


def _verify_quiet(message: str, *, text: str | None = None) -> ssl.SSLCertVerificationError:
    """A verification error whose text (default: ``message``) may say less than its
    ``verify_message``."""
    err = ssl.SSLCertVerificationError(1, message if text is None else text)
    err.verify_message = message
    return err


def _caused(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


def _context(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__context__ = inner
    return outer


class SSLError(Exception):
    """A third-party "SSLError" that is no ssl.SSLError (as urllib3's once was)."""


CASES: list[tuple[str, BaseException, str | None]] = [
    ("self-signed", _verify("self-signed certificate"), "certificate"),
    ("expired", _verify("certificate has expired"), "certificate"),
    ("hostname", _verify("Hostname mismatch, certificate is not valid for 'x'."), "hostname"),
    (
        "the verify message alone names the host",
        _verify_quiet("Hostname mismatch", text="[SSL: CERTIFICATE_VERIFY_FAILED] verify failed"),
        "hostname",
    ),
    (
        "ip address",
        _verify("IP address mismatch, certificate is not valid for '1.2.3.4'."),
        "hostname",
    ),
    (
        "words only, no ssl type",
        ConnectionError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
        "certificate",
    ),
    (
        "words only, hostname",
        ConnectionError("CERTIFICATE_VERIFY_FAILED: Hostname mismatch"),
        "hostname",
    ),
    ("another handshake failure", ssl.SSLError(1, "[SSL] wrong version number"), "tls"),
    ("a class named SSLError", SSLError("handshake"), "tls"),
    ("requests' SSLError", requests.exceptions.SSLError("handshake"), "tls"),
    ("not about TLS", ConnectionRefusedError(111, "Connection refused"), None),
    ("httpx, not about TLS", httpx.ConnectError("All connection attempts failed"), None),
    ("through __cause__", _caused(httpx.ConnectError("x"), _verify("self-signed")), "certificate"),
    ("through __context__", _context(OSError("x"), _verify("Hostname mismatch")), "hostname"),
    (
        "through args (urllib3's reason)",
        requests.exceptions.ConnectionError(OSError("retries"), _verify_quiet("Hostname mismatch")),
        "hostname",
    ),
    (
        "deep under a generic TLS error",
        _caused(ssl.SSLError(1, "x"), _caused(OSError("y"), _verify("self-signed"))),
        "certificate",
    ),
    (
        "a generic TLS error under a plain one",
        _caused(httpx.ConnectError("x"), ssl.SSLError(1, "eof")),
        "tls",
    ),
]


@pytest.mark.parametrize(("exc", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_tls_problem_is_found_wherever_it_is_chained(
    exc: BaseException, problem: str | None
) -> None:
    """Certificate, hostname, another TLS failure or none, through every wrapping."""
    assert tls_problem(exc) == problem


def test_a_cycle_of_causes_ends() -> None:
    """An exception chain that loops back on itself is walked once."""
    a, b = OSError("a"), OSError("b")
    a.__cause__, b.__context__ = b, a
    assert tls_problem(a) is None
    c = ssl.SSLError(1, "c")
    b.__cause__ = c
    c.__context__ = a
    assert tls_problem(a) == "tls"


@pytest.mark.parametrize(
    ("problem", "words"),
    [
        (
            "certificate",
            "the server's TLS certificate did not verify (self-signed, private CA or expired)",
        ),
        ("hostname", "the server's TLS certificate is for another host name (hostname mismatch)"),
        ("tls", "the TLS handshake failed"),
    ],
)
def test_the_advice_names_the_problem_and_what_to_set(problem: str, words: str) -> None:
    """Each problem's words, then the same things to set for all: the whole text."""
    assert tls_advice(problem) == (
        f"{words}; not retried: trust its CA with verify= (a CA bundle path) or "
        "REQUESTS_CA_BUNDLE, or use the host name the certificate names"
    )
