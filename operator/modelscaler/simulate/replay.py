"""The queueing model: replicas with K slots, a FIFO queue, cold starts, and a policy deciding on a clock.

Model (docs/simulator.md states it for users):

- A Ready replica serves up to K requests at once (`replica_capacity`); a request's
  service time does not depend on load. Excess requests wait in one FIFO queue
  and start on the first slot that frees.
- New arrivals go to the least-loaded Ready replica (a load balancer).
- A replica the policy adds is billed from that moment and becomes Ready
  `cold_start` seconds later.
- On scale-down, replicas still starting go first (newest first, as the
  ReplicaSet controller deletes not-ready pods first), then the Ready replicas
  with the fewest requests in flight. A removed replica takes no new requests;
  the requests it holds finish there (graceful termination) and it is billed
  until the last one does.
- The replay processes events exactly (arrivals, completions, readiness) and
  scrapes running totals every `scrape_interval`; a policy decides at the
  multiples of its own interval from the scrapes so far.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from modelscaler.engine.history import Sample, ScaleEvent
from modelscaler.simulate.policies.base import Policy
from modelscaler.simulate.signals import MetricsView, ScrapeLog
from modelscaler.simulate.traces import Request

# Give up on a replay whose queue has not drained this long after the last arrival.
DRAIN_LIMIT_SECONDS = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class ClusterModel:
    """The replicas under replay: K slots each, the cold start, the scrape interval, the count at t=0.

    initial_replicas start Ready at time 0 (a warm deployment).
    sample_interval: how often a diagnosis Sample is recorded (seconds).
    sample_latency: what the Samples' latency percentiles measure: "e2e" (wait +
    service) or "ttft" (wait + prefill), to match the objective the rules judge by.
    """

    replica_capacity: int = 1
    cold_start: float = 60.0
    scrape_interval: float = 1.0
    initial_replicas: int = 1
    min_replicas: int = 1
    max_replicas: int = 1
    stable_window: float = 60.0
    sample_interval: float = 10.0
    sample_latency: str = "e2e"


@dataclass(slots=True)
class ReplayResult:
    """Everything a replay measured for one policy.

    latencies: per request (arrival order), wait + service seconds.
    timeline_*: one entry per scrape (time = index x scrape_interval).
    """

    policy: str
    latencies: list[float]
    waits: list[float]
    replica_seconds: float
    end_time: float
    seconds_at_max: float
    scale_events: list[ScaleEvent]
    samples: list[Sample]
    timeline_desired: list[int] = field(default_factory=list)
    timeline_ready: list[int] = field(default_factory=list)
    timeline_in_system: list[int] = field(default_factory=list)
    scrape_interval: float = 1.0


class _Replica:
    __slots__ = ("cancelled", "draining", "in_flight", "key", "ready", "ready_at")

    def __init__(self, key: int, ready_at: float, ready: bool) -> None:
        self.key = key
        self.ready_at = ready_at
        self.ready = ready
        self.in_flight = 0
        self.draining = False
        self.cancelled = False


class _Cluster:
    """Replicas, the queue and the running totals; advanced event by event."""

    def __init__(self, requests: Sequence[Request], model: ClusterModel) -> None:
        self.requests = requests
        self.model = model
        self.capacity = model.replica_capacity
        self.replicas: dict[int, _Replica] = {}
        self.serving: list[_Replica] = []  # Ready, not draining
        self.starting: list[_Replica] = []
        self.next_key = 0
        self.queue: deque[int] = deque()
        self.completions: list[tuple[float, int, int]] = []  # (finish, request index, replica key)
        self.readiness: list[tuple[float, int]] = []  # (ready_at, replica key)
        self.latencies = [math.inf] * len(requests)
        self.waits = [math.inf] * len(requests)
        self.clock = 0.0
        self.area = 0.0
        self.billed_seconds = 0.0
        self.in_service = 0
        self.arrived = 0
        self.completed = 0
        self.completed_service = 0.0
        self.completion_log: list[tuple[float, float]] = []  # (finish time, sampled latency), in finish order
        self.sample_ttft = model.sample_latency == "ttft"
        for _ in range(model.initial_replicas):
            self._add_replica(ready=True)

    # --- counts -----------------------------------------------------------------------------------------
    @property
    def ready_count(self) -> int:
        return len(self.serving)

    @property
    def starting_count(self) -> int:
        return len(self.starting)

    def _billed(self) -> int:
        return len(self.replicas)

    # --- time -------------------------------------------------------------------------------------------
    def _advance(self, to: float) -> None:
        span = to - self.clock
        if span > 0:
            self.area += (self.in_service + len(self.queue)) * span
            self.billed_seconds += self._billed() * span
            self.clock = to

    def run_until(self, until: float) -> None:
        """Processes every event up to `until` in time order (completions, readiness, then arrivals).

        The clock stops at the last completion once every request is done: billing ends there.
        """
        requests = self.requests
        while True:
            next_completion = self.completions[0][0] if self.completions else math.inf
            next_ready = self.readiness[0][0] if self.readiness else math.inf
            next_arrival = requests[self.arrived].arrival if self.arrived < len(requests) else math.inf
            upcoming = min(next_completion, next_ready, next_arrival)
            if upcoming > until:
                break
            self._advance(upcoming)
            if next_completion == upcoming:
                self._complete()
            elif next_ready == upcoming:
                self._make_ready()
            else:
                self._arrive()
            if self.done:
                return
        self._advance(until)

    # --- events -----------------------------------------------------------------------------------------
    def _arrive(self) -> None:
        index = self.arrived
        self.arrived += 1
        if not self.queue:
            target = self._least_loaded()
            if target is not None:
                self._start(index, target)
                return
        self.queue.append(index)

    def _least_loaded(self) -> _Replica | None:
        best: _Replica | None = None
        for replica in self.serving:
            if replica.in_flight < self.capacity and (best is None or replica.in_flight < best.in_flight):
                best = replica
                if replica.in_flight == 0:
                    break
        return best

    def _start(self, index: int, replica: _Replica) -> None:
        request = self.requests[index]
        wait = self.clock - request.arrival
        self.waits[index] = wait
        self.latencies[index] = wait + request.service
        replica.in_flight += 1
        self.in_service += 1
        heapq.heappush(self.completions, (self.clock + request.service, index, replica.key))

    def _complete(self) -> None:
        finish, index, key = heapq.heappop(self.completions)
        self.in_service -= 1
        self.completed += 1
        self.completed_service += self.requests[index].service
        sampled = (
            self.waits[index] + self.requests[index].prefill if self.sample_ttft else self.latencies[index]
        )
        self.completion_log.append((finish, sampled))
        replica = self.replicas[key]
        replica.in_flight -= 1
        if replica.draining:
            if replica.in_flight == 0:
                del self.replicas[key]
        elif self.queue:
            self._start(self.queue.popleft(), replica)

    def _make_ready(self) -> None:
        _, key = heapq.heappop(self.readiness)
        replica = self.replicas.get(key)
        if replica is None or replica.cancelled:
            return
        replica.ready = True
        self.starting.remove(replica)
        self.serving.append(replica)
        while self.queue and replica.in_flight < self.capacity:
            self._start(self.queue.popleft(), replica)

    # --- scaling ----------------------------------------------------------------------------------------
    def _add_replica(self, ready: bool) -> None:
        key = self.next_key
        self.next_key += 1
        ready_at = self.clock if ready else self.clock + self.model.cold_start
        replica = _Replica(key, ready_at, ready)
        self.replicas[key] = replica
        if ready:
            self.serving.append(replica)
        else:
            self.starting.append(replica)
            heapq.heappush(self.readiness, (ready_at, key))

    def scale_to(self, desired: int) -> None:
        """Adds or removes replicas so that ready + starting equals `desired`."""
        current = self.ready_count + self.starting_count
        for _ in range(desired - current):
            self._add_replica(ready=False)
        excess = current - desired
        while excess > 0 and self.starting:
            newest = max(self.starting, key=lambda replica: replica.ready_at)
            self.starting.remove(newest)
            newest.cancelled = True
            del self.replicas[newest.key]
            excess -= 1
        if excess > 0:
            self.serving.sort(key=lambda replica: replica.in_flight)
            removed, self.serving = self.serving[:excess], self.serving[excess:]
            for replica in removed:
                if replica.in_flight == 0:
                    del self.replicas[replica.key]
                else:
                    replica.draining = True

    @property
    def done(self) -> bool:
        return self.completed == len(self.requests)


def replay(
    requests: Sequence[Request],
    policy: Policy,
    model: ClusterModel,
    progress: Callable[[float], None] | None = None,
) -> ReplayResult:
    """Replays the requests through the cluster model under `policy`; returns what it measured."""
    cluster = _Cluster(requests, model)
    log = ScrapeLog(model.scrape_interval)
    dt = model.scrape_interval
    last_arrival = requests[-1].arrival if requests else 0.0
    decide_every = max(1, round(policy.interval / dt))
    sample_every = max(1, round(max(model.sample_interval, policy.interval) / dt))
    scale_events: list[ScaleEvent] = []
    samples: list[Sample] = []
    result = ReplayResult(policy.name, cluster.latencies, cluster.waits, 0.0, 0.0, 0.0, scale_events, samples)
    result.scrape_interval = dt
    desired = cluster.ready_count
    last_wanted: int | None = None
    seconds_at_max = 0.0
    tick = 0
    while True:
        now = tick * dt
        if tick > 0:
            cluster.run_until(now)
            log.append(
                cluster.area,
                cluster.arrived,
                cluster.completed,
                cluster.completed_service,
                cluster.in_service,
                len(cluster.queue),
            )
            if desired >= model.max_replicas:
                seconds_at_max += dt
        if cluster.done and tick > 0:
            break
        if now > last_arrival + DRAIN_LIMIT_SECONDS:
            break
        if tick % decide_every == 0:
            view = MetricsView(log, now, cluster.ready_count, cluster.starting_count)
            step = policy.decide(view)
            last_wanted = step.wanted
            if step.desired != desired:
                scale_events.append(ScaleEvent(now, desired, step.desired, step.reason))
                cluster.scale_to(step.desired)
                desired = step.desired
        if tick % sample_every == 0 and tick > 0:
            samples.append(_sample(cluster, log, now, desired, last_wanted, model))
        result.timeline_desired.append(desired)
        result.timeline_ready.append(cluster.ready_count)
        result.timeline_in_system.append(cluster.in_service + len(cluster.queue))
        if progress is not None and tick % 600 == 0:
            progress(min(1.0, now / max(last_arrival, 1e-9)))
        tick += 1
    result.end_time = cluster.clock
    result.replica_seconds = cluster.billed_seconds
    result.seconds_at_max = seconds_at_max
    return result


def _sample(
    cluster: _Cluster, log: ScrapeLog, now: float, desired: int, wanted: int | None, model: ClusterModel
) -> Sample:
    """One diagnosis Sample: counts, windowed load and latency percentiles of recent completions."""
    view = MetricsView(log, now, cluster.ready_count, cluster.starting_count)
    recent = _recent_latencies(cluster.completion_log, now - model.stable_window)
    p50, p95, p99 = (percentile(recent, q) for q in (50, 95, 99)) if recent else (None, None, None)
    return Sample(
        time=now,
        desired_replicas=desired,
        ready_replicas=cluster.ready_count,
        starting_replicas=cluster.starting_count,
        wanted_replicas=wanted,
        min_replicas=model.min_replicas,
        max_replicas=model.max_replicas,
        concurrency=view.concurrency(model.stable_window),
        arrival_concurrency=view.arrival_concurrency(model.stable_window),
        request_rate=view.request_rate(model.stable_window),
        latency_p50=p50,
        latency_p95=p95,
        latency_p99=p99,
        waiting_requests=float(view.queued()),
    )


def _recent_latencies(log: list[tuple[float, float]], since: float) -> list[float]:
    values: list[float] = []
    for finish, latency in reversed(log):
        if finish < since:
            break
        values.append(latency)
    values.sort()
    return values


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of already sorted values, linear between ranks."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)
