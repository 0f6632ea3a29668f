"""Durations and sizes in CLI output: one notation (ms, s, KiB, MiB) everywhere."""

from __future__ import annotations

import io

import pytest

from vendorgate._units import format_duration, format_size
from vendorgate.testing._demo import DemoRow, _print_table


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.0042, "4 ms"),
        (0.25, "250 ms"),
        (2.345, "2.3 s"),
        (42.4, "42 s"),
        (600, "600 s"),
        (10800, "10800 s (3 h)"),
        (2628288, "2628288 s (30.4 d)"),
    ],
)
def test_durations_use_ms_below_a_second_and_seconds_above(seconds: float, text: str) -> None:
    """A duration reads as ms under a second, else seconds (with hours or days when long)."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (512, "512 B"), (2048, "2.0 KiB"), (5 * 1024 * 1024 + 1, "5.0 MiB")],
)
def test_sizes_use_binary_units(size: int, text: str) -> None:
    """A size reads in B, KiB, MiB or GiB."""
    assert format_size(size) == text


def test_demo_table_states_lifetimes_and_output_in_those_units() -> None:
    """The demo summary shows token lifetimes in seconds and output sizes in KiB."""
    out = io.StringIO()
    _print_table([DemoRow("techwolf-eu", "client secret", 10800.0, 3, 75, 1, 20480)], out)
    text = out.getvalue()
    assert "10800 s (3 h)" in text
    assert "20.0 KiB" in text
