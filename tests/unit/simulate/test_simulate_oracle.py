"""The oracle is the least cost of a queue-free schedule: hand cases, and exhaustive search on tiny traces."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.simulate.simulate_support import requests_from

from modelscaler.simulate.oracle import needed_replicas, oracle
from modelscaler.simulate.traces import Request


def test_needed_replicas_counts_requests_in_service_per_k_slots() -> None:
    requests = requests_from([(0, 4), (1, 2), (1, 5), (3, 1)])
    # In service: 1 on [0,1), 3 on [1,4) (one leaves and one arrives at 3), 1 on [4,6).
    assert needed_replicas(requests, 2) == [(0, 1), (1, 2), (4, 1), (6, 0)]
    # A departure at t frees its slot for an arrival at t.
    assert needed_replicas(requests_from([(0, 2), (2, 2)]), 1) == [(0, 1), (4, 0)]


def test_a_gap_shorter_than_the_cold_start_is_bridged_and_a_longer_one_is_not() -> None:
    # Initial replica Ready at 0, needed on [0, 10) and again on [15, 20) (gap 5 < cold start 10): keep it.
    short_gap = requests_from([(0, 10), (15, 5)])
    assert oracle(short_gap, 1, cold_start=10, initial_replicas=1).replica_seconds == 20
    # Gap 50 > cold start 10: drop it and restart 10 s ahead of t=60, paying 10 instead of 50.
    long_gap = requests_from([(0, 10), (60, 5)])
    assert oracle(long_gap, 1, cold_start=10, initial_replicas=1).replica_seconds == 10 + 10 + 5


def test_a_replica_beyond_the_initial_ones_pays_its_cold_start() -> None:
    requests = requests_from([(0, 100), (50, 10)])
    result = oracle(requests, 1, cold_start=30, initial_replicas=1)
    assert result.replica_seconds == 100 + 30 + 10
    assert result.feasible
    too_soon = oracle(requests_from([(0, 100), (20, 10)]), 1, cold_start=30, initial_replicas=1)
    assert not too_soon.feasible


def test_min_replicas_are_paid_for_the_whole_horizon() -> None:
    requests = requests_from([(10, 5)])
    assert oracle(requests, 1, cold_start=5, initial_replicas=2, min_replicas=2).replica_seconds == 2 * 15


def brute_force(
    requests: Sequence[Request], capacity: int, cold_start: int, initial: int, horizon: int, lifetimes: int
) -> float | None:
    """The least cost over every set of replica lifetimes (integer times) that never lets a request wait.

    A lifetime is (launch, end): billed end - launch, Ready from launch + cold_start; a
    pre-warmed one (at most `initial` of them) is Ready from 0 and billed from 0.
    """
    demand = [sum(1 for r in requests if r.arrival <= t < r.arrival + r.service) for t in range(horizon)]
    options: list[tuple[int, int, int]] = []  # (ready_from, billed_from, end)
    for end in range(1, horizon + 1):
        options.append((0, 0, end))  # pre-warmed
    for launch in range(horizon):
        for end in range(launch + cold_start + 1, horizon + 1):
            options.append((launch + cold_start, launch, end))
    best: float | None = None
    for count in range(lifetimes + 1):
        for chosen in itertools.combinations_with_replacement(options, count):
            if (
                sum(1 for ready_from, billed_from, _ in chosen if billed_from == 0 and ready_from == 0)
                > initial
            ):
                continue
            feasible = all(
                capacity * sum(1 for ready_from, _, end in chosen if ready_from <= t < end) >= demand[t]
                for t in range(horizon)
            )
            if feasible:
                cost = sum(end - billed_from for _, billed_from, end in chosen)
                best = cost if best is None else min(best, cost)
    return best


@settings(max_examples=40, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 3)), min_size=1, max_size=3),
    capacity=st.integers(1, 2),
    cold_start=st.integers(1, 3),
    initial=st.integers(0, 1),
)
def test_the_oracle_equals_an_exhaustive_search_on_tiny_traces(
    pairs: list[tuple[int, int]], capacity: int, cold_start: int, initial: int
) -> None:
    requests = requests_from([(float(a), float(s)) for a, s in pairs])
    horizon = int(max(r.arrival + r.service for r in requests))
    result = oracle(requests, capacity, float(cold_start), initial_replicas=initial)
    exhaustive = brute_force(requests, capacity, cold_start, initial, horizon, lifetimes=3)
    if exhaustive is None:
        # Queue-free is impossible only when some level is needed within a cold start of t=0.
        assert not result.feasible
    else:
        assert result.feasible
        assert math.isclose(result.replica_seconds, exhaustive)
