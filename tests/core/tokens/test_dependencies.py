"""The package's published requirements: what the token engine imports, no lock-only pins."""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement


def _requirements() -> list[Requirement]:
    return [Requirement(text) for text in requires("vendorgate") or []]


def test_toml_needs_no_extra_dependency() -> None:
    """TokenConfig.from_toml uses the standard tomllib: every supported Python (>= 3.11) has it."""
    from importlib.metadata import metadata

    assert metadata("vendorgate")["Requires-Python"] == ">=3.11"
    assert "tomli" not in {r.name for r in _requirements()}


def test_prefect_extra_publishes_no_fastapi_cap() -> None:
    """Installing vendorgate[prefect] does not cap FastAPI (that cap is a lock-time constraint)."""
    prefect = [r for r in _requirements() if r.marker and r.marker.evaluate({"extra": "prefect"})]
    assert "prefect" in {r.name for r in prefect}
    assert "fastapi" not in {r.name for r in prefect}
