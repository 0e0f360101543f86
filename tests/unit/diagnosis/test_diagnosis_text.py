"""How figures are written: durations as the spec takes them, memory quantities, counts, message spans."""

from __future__ import annotations

import math

import pytest

from modelscaler.engine.diagnosis.text import (
    COUNT_CAP,
    concurrency_setting,
    delay_to_cover,
    duration_setting,
    larger_memory,
    memory_quantity,
    num,
    span,
    whole_up,
)


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (0, "0s"),
        (45, "45s"),
        (59.2, "60s"),
        (60, "1m"),
        (61, "2m"),
        (900, "15m"),
        (3600, "1h"),
        (5400, "90m"),
    ],
)
def test_duration_setting(seconds: float, written: str) -> None:
    assert duration_setting(seconds) == written


def test_delay_to_cover_rounds_up_to_minutes_and_stops_at_the_api_maximum() -> None:
    assert delay_to_cover(300, 1.2) == 360
    assert delay_to_cover(301, 1.0) == 360
    assert delay_to_cover(10_000, 1.2) == 3600


@pytest.mark.parametrize(("size", "written"), [(8 * 2**30, "8Gi"), (1536 * 2**20, "1536Mi"), (1000, "1000")])
def test_memory_quantity(size: int, written: str) -> None:
    assert memory_quantity(size) == written


def test_larger_memory_is_rounded_up_to_256_mib_and_always_larger() -> None:
    assert larger_memory(8 * 2**30, 1.5) == "12Gi"
    assert larger_memory(1000 * 2**20, 1.5) == "1536Mi"
    assert larger_memory(1, 1.5) == "256Mi"
    assert larger_memory(256 * 2**20, 1.0) == "512Mi"


def test_concurrency_setting_rounds_down_to_whole_requests_from_one() -> None:
    assert concurrency_setting(3.99) == 3
    assert concurrency_setting(4.0) == 4
    assert concurrency_setting(0.37) == 0.3
    assert concurrency_setting(0.01) == 0.1


def test_whole_up_ignores_float_noise_and_caps_the_absurd() -> None:
    assert whole_up(3.0000000001) == 3
    assert whole_up(3.2) == 4
    assert whole_up(math.inf) == COUNT_CAP
    assert whole_up(math.nan) == COUNT_CAP


@pytest.mark.parametrize(
    ("value", "written"), [(12.0, "12"), (4.25, "4.2"), (0.354, "0.35"), (math.inf, "inf")]
)
def test_num(value: float, written: str) -> None:
    assert num(value) == written


@pytest.mark.parametrize(
    ("seconds", "written"), [(30, "30 s"), (150, "2.5 min"), (240, "4 min"), (1200, "20 min"), (7200, "2 h")]
)
def test_span(seconds: float, written: str) -> None:
    assert span(seconds) == written
