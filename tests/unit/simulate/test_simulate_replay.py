"""The queueing model: FIFO service, cold starts, draining on scale-down, billing, and what policies see."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.simulate.simulate_support import fifo_waits, requests_from

from modelscaler.simulate.policies.base import Step
from modelscaler.simulate.replay import ClusterModel, replay
from modelscaler.simulate.signals import MetricsView


class Scripted:
    """A policy that applies a fixed schedule {time: replicas} and records what it saw."""

    source = "test"

    def __init__(self, schedule: dict[float, int], interval: float = 1.0) -> None:
        self.name = "scripted"
        self.interval = interval
        self.schedule = schedule
        self.seen: list[tuple[float, int, int, float | None]] = []
        self.current: int | None = None

    def decide(self, view: MetricsView) -> Step:
        self.seen.append((view.now, view.ready, view.starting, view.concurrency(10)))
        if self.current is None:
            self.current = view.current
        self.current = self.schedule.get(view.now, self.current)
        return Step(self.current)


def test_one_slot_serves_in_arrival_order_and_the_second_request_waits() -> None:
    requests = requests_from([(0.5, 4.0), (1.0, 2.0), (1.5, 1.0)])
    result = replay(requests, Scripted({}), ClusterModel(replica_capacity=1, initial_replicas=1))
    assert result.waits == [0.0, 3.5, 5.0]
    assert result.latencies == [4.0, 5.5, 6.0]


def test_k_slots_serve_k_requests_at_once() -> None:
    requests = requests_from([(0.0, 3.0)] * 3 + [(0.1, 1.0)])
    result = replay(requests, Scripted({}), ClusterModel(replica_capacity=3, initial_replicas=1))
    assert result.waits[:3] == [0.0, 0.0, 0.0]
    assert math.isclose(result.waits[3], 2.9)


def test_a_new_replica_serves_only_after_the_cold_start_and_is_billed_from_its_start() -> None:
    requests = requests_from([(0.0, 100.0), (1.0, 5.0)])
    policy = Scripted({1.0: 2})
    result = replay(requests, policy, ClusterModel(replica_capacity=1, cold_start=30.0, initial_replicas=1))
    # The second request waits for the replica added at t=1 to be Ready at t=31.
    assert math.isclose(result.waits[1], 30.0)
    # Replica 1 is billed 0..100 (the last completion), replica 2 from t=1.
    assert result.end_time == 100.0
    assert math.isclose(result.replica_seconds, 100.0 + 99.0)
    starting_seen = {now: starting for now, _, starting, _ in policy.seen}
    assert starting_seen[10.0] == 1
    assert starting_seen[40.0] == 0


def test_scale_down_removes_idle_replicas_first_and_lets_busy_ones_drain() -> None:
    # Two replicas; at t=2 one request runs on one of them; scaling to 1 removes the idle one.
    requests = requests_from([(1.0, 10.0)])
    result = replay(requests, Scripted({2.0: 1}), ClusterModel(replica_capacity=1, initial_replicas=2))
    assert result.waits == [0.0]
    # Billing: two replicas for 2 s, then one until the request ends at t=11.
    assert math.isclose(result.replica_seconds, 2 * 2.0 + 9.0)


def test_removing_a_busy_replica_lets_its_request_finish_and_bills_it_until_then() -> None:
    requests = requests_from([(0.5, 10.0), (0.6, 10.0)])
    result = replay(requests, Scripted({2.0: 1}), ClusterModel(replica_capacity=1, initial_replicas=2))
    assert result.waits == [0.0, 0.0]
    # The removed replica is billed until its request ends (10.5), the other until the last one (10.6).
    assert math.isclose(result.replica_seconds, 10.5 + 10.6)


def test_scale_down_cancels_starting_replicas_before_ready_ones() -> None:
    requests = requests_from([(0.0, 50.0)])
    policy = Scripted({1.0: 3, 5.0: 1})
    result = replay(requests, policy, ClusterModel(replica_capacity=1, cold_start=60.0, initial_replicas=1))
    seen = {now: (ready, starting) for now, ready, starting, _ in policy.seen}
    assert seen[3.0] == (1, 2)
    assert seen[6.0] == (1, 0)
    assert result.waits == [0.0]
    assert math.isclose(result.replica_seconds, 50.0 + 2 * 4.0)


def test_policies_see_the_time_averaged_load_of_the_scrapes_so_far() -> None:
    # One request in service from t=0 to t=5, nothing after: the 10-s window at t=10 averages 0.5.
    requests = requests_from([(0.0, 5.0), (20.0, 1.0)])
    policy = Scripted({})
    replay(requests, policy, ClusterModel(replica_capacity=1, initial_replicas=1))
    seen = {now: load for now, _, _, load in policy.seen}
    assert seen[0.0] is None  # no scrape yet: unknown, not zero
    assert seen[10.0] == 0.5
    assert seen[4.0] == 1.0


def test_the_view_computes_arrival_driven_concurrency_from_rate_and_mean_service() -> None:
    requests = requests_from([(t * 0.5, 2.0) for t in range(400)])
    seen: list[float | None] = []

    class Watcher(Scripted):
        def decide(self, view: MetricsView) -> Step:
            seen.append(view.arrival_concurrency(60))
            return Step(view.current)

    replay(requests, Watcher({}), ClusterModel(replica_capacity=10, initial_replicas=1))
    # 2 arrivals/s x 2 s of service = 4 once a minute of arrivals and completions are in.
    assert seen[120] is not None
    assert math.isclose(seen[120], 4.0, rel_tol=0.05)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.floats(0, 50, allow_nan=False), st.floats(0.05, 20, allow_nan=False)),
        min_size=1,
        max_size=40,
    ),
    replicas=st.integers(1, 3),
    capacity=st.integers(1, 3),
)
def test_with_a_fixed_count_the_replay_matches_a_fifo_multi_server_queue(
    pairs: list[tuple[float, float]], replicas: int, capacity: int
) -> None:
    requests = requests_from(pairs)
    result = replay(
        requests, Scripted({}), ClusterModel(replica_capacity=capacity, initial_replicas=replicas)
    )
    expected = fifo_waits(requests, replicas * capacity)
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(result.waits, expected, strict=True))
    for request, wait, latency in zip(requests, result.waits, result.latencies, strict=True):
        assert math.isclose(latency, wait + request.service)
    # Billing is the fixed count over the whole replay.
    assert math.isclose(result.replica_seconds, replicas * result.end_time)
    last_finish = max(r.arrival + w + r.service for r, w in zip(requests, result.waits, strict=True))
    assert math.isclose(result.end_time, last_finish)
