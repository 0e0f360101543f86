"""Durations: the strings users write, the seconds the engine uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelscaler.api.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60s", 60.0),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("1m30s", 90.0),
        ("250ms", 0.25),
        ("0s", 0.0),
        ("900s", 900.0),
        ("2h0m1s", 7201.0),
    ],
)
def test_parses_go_style_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "60", "-1s", "+1s", "1d", "1 s", "s", "1.s", ".5s", "1us", "1S", "9" * 32 + "s"]
)
def test_refuses_what_the_schema_pattern_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (60, "1m"), (90, "1m30s"), (5400, "1h30m"), (3600, "1h"), (0.25, "0.25s")],
)
def test_formats_the_shortest_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(0, 10**9))
def test_format_then_parse_gives_the_same_milliseconds(millis: int) -> None:
    assert parse_duration(format_duration(millis / 1000)) == pytest.approx(millis / 1000)


@pytest.mark.parametrize("seconds", [-1.0, float("inf"), float("nan")])
def test_format_refuses_what_is_not_a_duration(seconds: float) -> None:
    with pytest.raises(ValueError, match="cannot write"):
        format_duration(seconds)
