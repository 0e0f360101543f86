"""The oracle: the fewest replica-seconds of any schedule under which no request waits, given cold starts.

It knows the future. Serving every request the moment it arrives needs
n(t) = max(min, ceil(C(t) / K)) Ready replicas, where C(t) counts the requests
in service at t. Think of the replicas as levels 1, 2, ...: level j must be
Ready whenever n(t) >= j. Between two stretches where level j is needed, with a
gap of g seconds, a schedule either keeps a replica Ready through the gap (g
replica-seconds) or lets it go and starts one again, which is billed for the
cold start c before it is Ready (c replica-seconds): it pays min(g, c). The first
stretch of a level costs a cold start c, unless the level is one of the replicas
Ready at time 0. Summing per level is optimal (and a lower bound for every
schedule):

*Lower bound.* Take any schedule with r(t) Ready replicas, r >= n. Each time r
crosses up through level j, one replica became Ready, and it was billed c
seconds while it started; one crossing moves exactly one level, so crossings
of different levels are different replicas. So a schedule's cost is at least
sum_j [ time with r >= j  +  c x (up-crossings of level j) ]. For level j that is
at least the time n >= j, plus, for each gap of n below j, either the whole gap
(r stayed >= j) or c (r dropped and came back), plus c for the first stretch if
r < j at time 0: exactly what the oracle adds up.

*Achievable.* Start the level-j replica c seconds before each stretch that
follows a gap >= c, keep it otherwise; the levels nest (n >= j+1 implies n >= j)
so the replicas can be assigned. A replica that goes away while a request it
holds is still running must finish that request (the replay's rule), which the
oracle does not pay for: it stays a lower bound, tight up to that draining.
tests/unit/simulate/test_oracle.py checks it against an exhaustive search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from modelscaler.simulate.traces import Request


@dataclass(frozen=True, slots=True)
class OracleResult:
    """The oracle's cost, whether any schedule can avoid queueing at all, and n(t) as (time, count) steps.

    feasible is False when a level is first needed sooner than a cold start after
    time 0 and no replica was Ready at 0 for it: no schedule avoids queueing then
    (the cost is still a lower bound on queue-free cost, counting a cold start).
    """

    replica_seconds: float
    feasible: bool
    horizon: float
    needed: tuple[tuple[float, int], ...]


def needed_replicas(
    requests: Sequence[Request], replica_capacity: int, min_replicas: int = 0
) -> list[tuple[float, int]]:
    """n(t) as (time, count) steps: the Ready replicas needed to serve every request at once."""
    events: list[tuple[float, int]] = []
    for request in requests:
        events.append((request.arrival, 1))
        events.append((request.arrival + request.service, -1))
    events.sort()  # at equal times a departure (-1) sorts first: its slot serves the arrival
    steps: list[tuple[float, int]] = []
    in_service = 0
    index = 0
    while index < len(events):
        time = events[index][0]
        while index < len(events) and events[index][0] == time:
            in_service += events[index][1]
            index += 1
        count = max(min_replicas, math.ceil(in_service / replica_capacity))
        if steps and steps[-1][0] == time:
            steps[-1] = (time, count)
        elif not steps or steps[-1][1] != count:
            steps.append((time, count))
    return steps


def oracle(
    requests: Sequence[Request],
    replica_capacity: int,
    cold_start: float,
    initial_replicas: int = 0,
    min_replicas: int = 0,
    horizon: float | None = None,
) -> OracleResult:
    """The least replica-seconds over [0, horizon] (default: last completion) of a queue-free schedule."""
    if replica_capacity < 1:
        raise ValueError("replica capacity must be at least 1")
    steps = needed_replicas(requests, replica_capacity, min_replicas)
    end = horizon if horizon is not None else max((r.arrival + r.service for r in requests), default=0.0)
    levels = max([initial_replicas, min_replicas, *(count for _, count in steps)])
    up_since: list[float | None] = [0.0 if j < initial_replicas else None for j in range(levels)]
    last_down: list[float | None] = [None] * levels
    cost = 0.0
    feasible = True
    count = initial_replicas
    for time, new_count in [(0.0, max(min_replicas, 0)), *steps]:
        if new_count > count:
            for level in range(count, new_count):
                previous = last_down[level]
                if previous is None:
                    cost += cold_start
                    feasible = feasible and time >= cold_start
                else:
                    cost += min(time - previous, cold_start)
                up_since[level] = time
        elif new_count < count:
            for level in range(new_count, count):
                since = up_since[level]
                if since is not None:
                    cost += time - since
                last_down[level] = time
                up_since[level] = None
        count = new_count
    for level in range(count):
        since = up_since[level]
        if since is not None:
            cost += max(0.0, end - since)
    return OracleResult(cost, feasible, end, tuple(steps))
