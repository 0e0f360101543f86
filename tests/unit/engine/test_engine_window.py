"""The scale-down window on its own: a sliding maximum kept as a short decreasing list."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from modelscaler.engine.types import WindowPoint
from modelscaler.engine.window import Window, prune, record, window_max


def test_a_larger_value_replaces_the_smaller_ones_before_it() -> None:
    window: Window = ()
    for time, wanted in [(0, 3), (1, 5), (2, 4), (3, 4), (4, 2)]:
        window = record(window, time, wanted)
    assert window == (WindowPoint(1, 5), WindowPoint(3, 4), WindowPoint(4, 2))


def test_points_exactly_the_horizon_old_stay_and_older_ones_go() -> None:
    window = (WindowPoint(0, 5), WindowPoint(10, 3))
    assert prune(window, 900, 900) == window
    assert prune(window, 901, 900) == (WindowPoint(10, 3),)
    assert prune(window, 911, 900) == ()
    assert window_max(()) is None


def test_past_the_cap_the_closest_neighbours_merge_upwards() -> None:
    window = (WindowPoint(0, 10), WindowPoint(1, 9), WindowPoint(2, 5))
    # 10 and 9 are closest: merged into 10, held until 9's time.
    assert record(window, 3, 1, max_points=3) == (WindowPoint(1, 10), WindowPoint(2, 5), WindowPoint(3, 1))


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=150),
    horizon=st.sampled_from([0, 3, 30, 1000]),
    max_points=st.sampled_from([2, 5, 100]),
)
def test_the_head_is_at_least_the_true_window_max_and_exact_under_the_cap(
    values: list[int], horizon: int, max_points: int
) -> None:
    window: Window = ()
    for now, wanted in enumerate(values):
        window = record(prune(window, now, horizon), now, wanted, max_points)
        true_max = max(values[max(0, now - horizon) : now + 1])
        head = window_max(window)
        assert head is not None
        assert len(window) <= max_points
        assert all(a.wanted > b.wanted and a.time < b.time for a, b in pairwise(window))
        if len(set(values[: now + 1])) <= max_points:
            assert head.wanted == true_max
        else:
            assert head.wanted >= true_max
