"""The five token endpoints, one module per vendor document, each exactly as it describes it.

Error bodies follow OAuth 2.0 (``{"error": ..., "error_description": ...}``) for every
vendor; Wokelo's unsupported media type answers Django REST Framework's
``{"detail": ...}``. Messages name the field at fault and never echo a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from vendorgate.testing.sandbox._vendors.lonewolf import lonewolf
from vendorgate.testing.sandbox._vendors.oauth2 import oauth2
from vendorgate.testing.sandbox._vendors.tci import tci
from vendorgate.testing.sandbox._vendors.techwolf import techwolf
from vendorgate.testing.sandbox._vendors.wokelo import wokelo

if TYPE_CHECKING:
    from collections.abc import Callable

    from vendorgate.testing.sandbox._http import Reply, Request
    from vendorgate.testing.sandbox._state import SandboxState

__all__ = ["TOKEN_HANDLERS"]

#: Token endpoint path -> (vendor, handler).
TOKEN_HANDLERS: Final[dict[str, tuple[str, Callable[[SandboxState, Request], Reply]]]] = {
    "/techwolf-eu/oauth/token": ("techwolf-eu", techwolf("techwolf-eu")),
    "/techwolf-us/oauth/token": ("techwolf-us", techwolf("techwolf-us")),
    "/lonewolf/oauth/token": ("lonewolf", lonewolf),
    "/tci/auth/token": ("tci", tci),
    "/oauth2/oauth/v2/token": ("oauth2", oauth2),
    "/wokelo/auth/token/": ("wokelo", wokelo),
}
