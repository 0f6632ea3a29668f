"""The package's published requirements: what the token engine imports, no lock-only pins."""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement


def _requirements() -> list[Requirement]:
    return [Requirement(text) for text in requires("vendorgate") or []]


def test_tomli_is_required_where_tomllib_is_missing() -> None:
    """TokenConfig.from_toml works on Python 3.10: tomli is a dependency there, only there."""
    (tomli,) = [r for r in _requirements() if r.name == "tomli"]
    assert tomli.marker is not None
    assert tomli.marker.evaluate({"python_version": "3.10", "extra": ""})
    assert not tomli.marker.evaluate({"python_version": "3.11", "extra": ""})


def test_prefect_extra_publishes_no_fastapi_cap() -> None:
    """Installing vendorgate[prefect] does not cap FastAPI (that cap is a lock-time constraint)."""
    prefect = [r for r in _requirements() if r.marker and r.marker.evaluate({"extra": "prefect"})]
    assert "prefect" in {r.name for r in prefect}
    assert "fastapi" not in {r.name for r in prefect}
