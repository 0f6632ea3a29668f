"""Response checks as plain data, so a trigger can carry them (``{"path": ..., "equals": ...}``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vendorgate._errors import ConfigurationError
from vendorgate.http._pagination import dig

__all__ = ["ResponseCheck", "dig"]


@dataclass(frozen=True)
class ResponseCheck:
    """When a polled JSON reply counts as ready (or as failed).

    Attributes:
        path: Dotted path of the value to look at (``"status"``).
        equals: Ready when the value equals this.
        one_of: Ready when the value is one of these.
        exists: Ready when the value is present (not ``None``).
        fail_on: The wait fails at once when the value is one of these (e.g. ``["failed"]``).
    """

    path: str
    equals: Any = None
    one_of: tuple[Any, ...] = ()
    exists: bool = False
    fail_on: tuple[Any, ...] = ()

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, field: str = "response_check"
    ) -> ResponseCheck:
        """Build from ``{"path": "status", "equals": "ready", "fail_on": ["failed"]}``."""
        if isinstance(data, ResponseCheck):
            return data
        if not isinstance(data, Mapping) or not isinstance(data.get("path"), str):
            raise ConfigurationError(
                'must be a mapping with a "path", e.g. {"path": "status", "equals": "ready"}',
                field=field,
            )
        known = {"path", "equals", "one_of", "exists", "fail_on"}
        for key in data:
            if key not in known:
                raise ConfigurationError(
                    f"unknown key {key!r}; valid: {', '.join(sorted(known))}", field=field
                )
        if not any(k in data for k in ("equals", "one_of", "exists")):
            raise ConfigurationError(
                "say when the reply is ready: equals, one_of or exists", field=field
            )
        return cls(
            path=data["path"],
            equals=data.get("equals"),
            one_of=tuple(data.get("one_of") or ()),
            exists=bool(data.get("exists", False)),
            fail_on=tuple(data.get("fail_on") or ()),
        )

    def to_mapping(self) -> dict[str, Any]:
        """Plain form (inverse of :meth:`from_mapping`)."""
        out: dict[str, Any] = {"path": self.path}
        if self.equals is not None:
            out["equals"] = self.equals
        if self.one_of:
            out["one_of"] = list(self.one_of)
        if self.exists:
            out["exists"] = True
        if self.fail_on:
            out["fail_on"] = list(self.fail_on)
        return out

    def failed(self, body: Any) -> bool:
        """Whether the reply says the awaited thing failed."""
        return bool(self.fail_on) and dig(body, self.path) in self.fail_on

    def ready(self, body: Any) -> bool:
        """Whether the reply says the awaited thing is ready."""
        value = dig(body, self.path)
        if self.exists and value is not None:
            return True
        if self.equals is not None and value == self.equals:
            return True
        return bool(self.one_of) and value in self.one_of
