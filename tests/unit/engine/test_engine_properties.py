"""Properties of decide() over random timelines (hypothesis).

Each example draws settings and a timeline of ticks at whole seconds whose
signals may be unknown, applies every decision as the operator would, and checks
the invariants at every tick against a brute-force model of the delay window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from modelscaler.engine import Decision, Memory, Mode, Observation, ScalingParams, decide

# A Unix time with a fraction, as the operator's clock gives it.
UNIX_START = 1_764_480_000.123456


@dataclass(frozen=True)
class Tick:
    """One drawn tick: seconds since the previous one and what the signals said."""

    gap: float
    stable: float | None
    burst: float | None
    starting_share: float  # share of the current replicas still starting
    # Arrival-driven concurrency (both windows) and requests in service, when the
    # source knows them (it then knows them for both windows).
    arrival: tuple[float, float] | None = None
    in_service: float | None = None
    # The queue, when known: requests waiting and their mean service seconds.
    queue: tuple[float, float] | None = None


loads = st.one_of(st.none(), st.floats(min_value=0.0, max_value=15.0, allow_nan=False))
known_loads = st.floats(min_value=0.0, max_value=15.0, allow_nan=False)
ticks = st.builds(
    Tick,
    gap=st.one_of(st.integers(min_value=1, max_value=40), st.floats(min_value=0.0004, max_value=40.0)),
    stable=loads,
    burst=loads,
    starting_share=st.sampled_from([0.0, 0.0, 0.5, 1.0]),
    arrival=st.one_of(st.none(), st.tuples(known_loads, known_loads)),
    in_service=st.one_of(st.none(), known_loads),
    queue=st.one_of(
        st.none(),
        st.tuples(st.sampled_from([0.0, 1.0, 5.0, 40.0]), st.sampled_from([0.5, 2.0, 10.0])),
    ),
)


@st.composite
def scaling_params(draw: st.DrawFn) -> ScalingParams:
    """Settings across their ranges, kept small so that timelines cross the delays."""
    min_replicas = draw(st.integers(min_value=0, max_value=3))
    return ScalingParams(
        min_replicas=min_replicas,
        max_replicas=draw(st.integers(min_value=max(min_replicas, 1), max_value=25)),
        concurrency_target=draw(st.sampled_from([0.5, 1.0, 4.0])),
        target_utilization=draw(st.sampled_from([0.5, 0.7, 1.0])),
        stable_window=draw(st.sampled_from([10.0, 60.0])),
        scale_down_delay=draw(st.sampled_from([0.0, 5.0, 30.0, 120.0, 300.0])),
        max_scale_down_rate=draw(st.sampled_from([0.1, 0.5, 1.0])),
        panic_threshold=draw(st.sampled_from([1.5, 2.0])),
        max_scale_up_rate=draw(st.sampled_from([1.5, 2.0, 1000.0])),
        follow_burst_in_stable_mode=draw(st.booleans()),
        backlog_drain_time=draw(st.sampled_from([0.0, 10.0, 60.0])),
        scale_up_tolerance=draw(st.sampled_from([0.0, 0.1, 0.5])),
    )


def observation(tick: Tick, time: float, replicas: int) -> Observation:
    """What the signals report at `time` with `replicas` running."""
    starting = int(replicas * tick.starting_share)
    return Observation(
        time=time,
        ready_replicas=replicas - starting,
        starting_replicas=starting,
        current_replicas=replicas,
        stable_concurrency=tick.stable,
        burst_concurrency=tick.burst,
        arrival_concurrency_stable=tick.arrival[0] if tick.arrival else None,
        arrival_concurrency_burst=tick.arrival[1] if tick.arrival else None,
        in_service=tick.in_service,
        waiting=tick.queue[0] if tick.queue else None,
        service_time=tick.queue[1] if tick.queue else None,
    )


def replay(
    params: ScalingParams, timeline: list[Tick], replicas: int, memory: Memory, start: float = UNIX_START
) -> list[tuple[float, Decision, Memory]]:
    """Feeds the ticks to decide(), applying each decision: (time, decision, memory after) per tick."""
    time = start
    results = []
    for tick in timeline:
        time += tick.gap
        decision, memory = decide(params, observation(tick, time, replicas), memory, time)
        replicas = decision.desired
        results.append((time, decision, memory))
    return results


def replicas_for(concurrency: float, per_replica: float) -> int:
    """ceil(concurrency / per_replica), with the same float-noise guard as the engine."""
    return math.ceil(concurrency / per_replica - 1e-9) if concurrency > 0 else 0


def backlog(params: ScalingParams, tick: Tick) -> float | None:
    """The queue's drain concurrency: None when unknown, 0 below one replica's capacity."""
    if tick.queue is None or params.backlog_drain_time <= 0:
        return None
    waiting, service = tick.queue
    drain = waiting * service / max(params.backlog_drain_time, service)
    return drain if drain >= params.capacity - 1e-9 else 0.0


@dataclass(frozen=True)
class Demand:
    """The model's sizing of one window: the count, the replicas needed before rounding, and the
    sustained count (without the backlog) that the delay window keeps."""

    count: int
    needed: float
    sustained: int


def window_demand(
    params: ScalingParams, in_flight: float | None, arrival: float | None, tick: Tick
) -> Demand | None:
    """Arrivals at the capacity; when the queue is known, arrivals plus the backlog's drain
    concurrency at the target if that wants more (transient), else in-service at the target as a
    floor; without arrivals, the in-flight count."""
    if arrival is not None:
        drain = backlog(params, tick)
        if drain is None:
            floor = (
                replicas_for(tick.in_service, params.concurrency_target) if tick.in_service is not None else 0
            )
            count = max(replicas_for(arrival, params.capacity), floor)
            needed = max(arrival / params.capacity, floor)
            return Demand(count, needed, count)
        sustained = replicas_for(arrival, params.capacity)
        with_drain = replicas_for(arrival + drain, params.concurrency_target)
        if with_drain <= sustained:
            return Demand(sustained, arrival / params.capacity, sustained)
        return Demand(with_drain, (arrival + drain) / params.concurrency_target, sustained)
    if in_flight is None:
        return None
    count = replicas_for(in_flight, params.capacity)
    return Demand(count, in_flight / params.capacity, count)


def recorded_demand(params: ScalingParams, tick: Tick, decision: Decision) -> int | None:
    """What the delay window must remember of this tick: the count the load proved necessary.

    That is the sustained count (a backlog's part is transient), except that a load
    within the tolerance of the current replicas proves only the current count.
    """
    stable = window_demand(params, tick.stable, tick.arrival[0] if tick.arrival else None, tick)
    burst = window_demand(params, tick.burst, tick.arrival[1] if tick.arrival else None, tick)
    if (stable is None and burst is None) or decision.reason == "Initial":
        return None
    if stable is None or burst is None:
        known = stable if stable is not None else burst
        assert known is not None
        return known.sustained
    sizes_from_burst = decision.mode == Mode.BURST or params.follow_burst_in_stable_mode
    leading = burst if sizes_from_burst and burst.count > stable.count else stable
    current = decision.current
    if current < leading.count and leading.needed <= current * (1 + params.scale_up_tolerance) + 1e-9:
        return min(leading.sustained, current)
    return leading.sustained


initial_replicas = st.integers(min_value=0, max_value=25)
timelines = st.lists(ticks, min_size=1, max_size=80)


@settings(max_examples=200, deadline=None)
@given(params=scaling_params(), timeline=timelines, start_replicas=initial_replicas)
def test_invariants_hold_at_every_tick(
    params: ScalingParams, timeline: list[Tick], start_replicas: int
) -> None:
    replicas = (
        0 if start_replicas == 0 else min(max(start_replicas, params.min_replicas), params.max_replicas)
    )
    demand_history: list[tuple[float, int]] = []
    last_step_down: float | None = None
    last_step_up: float | None = None
    for (clock, decision, memory), tick in zip(
        replay(params, timeline, replicas, Memory()), timeline, strict=True
    ):
        time = round(clock, 3)  # the engine decides on milliseconds
        current = decision.current
        # Replicas stay within [min, max].
        assert params.min_replicas <= decision.desired <= params.max_replicas, decision
        demand = recorded_demand(params, tick, decision)
        if demand is not None:
            demand_history.append((time, min(demand, params.max_replicas)))
        if decision.desired < current:
            # Never down while a window is unknown, nor while a backlog worth a replica drains.
            assert tick.arrival is not None or (tick.stable is not None and tick.burst is not None), decision
            assert not (tick.arrival is not None and (backlog(params, tick) or 0.0) > 0), decision
            # Never below what the delay window demands.
            window_demand = max(d for t, d in demand_history if t >= time - params.scale_down_delay)
            assert decision.desired >= max(params.min_replicas, min(window_demand, params.max_replicas)), (
                decision
            )
            if decision.reason == "BacklogDrained":
                # Replicas above every count the load asked for, started by a scale-up less than
                # a delay ago (and after the last step down), leave at once.
                assert last_step_up is not None
                assert time - last_step_up < params.scale_down_delay
                assert last_step_down is None or last_step_down < last_step_up
                assert current > window_demand
            else:
                # Steps one delay apart, each at most the rate's share of the excess (and at least one).
                if last_step_down is not None:
                    assert time - last_step_down >= params.scale_down_delay
            last_step_down = time
            if current <= params.max_replicas and decision.reason != "BacklogDrained":
                excess = current - max(window_demand, params.min_replicas)
                assert current - decision.desired <= max(
                    1, math.floor(params.max_scale_down_rate * excess + 1e-9)
                )
        if decision.desired > current:
            last_step_up = time
        if tick.stable is None and tick.burst is None and tick.arrival is None:
            assert decision.valid is False or decision.reason == "Initial"
        # The memory goes to status and back unchanged, and stays small.
        assert Memory.from_dict(memory.to_dict()) == memory
        assert len(memory.window) <= params.max_replicas + 1


@settings(max_examples=120, deadline=None)
@given(
    params=scaling_params(),
    timeline=timelines,
    start_replicas=initial_replicas,
    restart_share=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_restart_at_any_tick_gives_the_same_future(
    params: ScalingParams, timeline: list[Tick], start_replicas: int, restart_share: float
) -> None:
    replicas = min(start_replicas, params.max_replicas)
    straight = replay(params, timeline, replicas, Memory())
    split = int(restart_share * (len(timeline) - 1))
    time_at_split, decision_at_split, memory_at_split = straight[split]
    restored = Memory.from_dict(memory_at_split.to_dict())
    after_restart = replay(
        params, timeline[split + 1 :], decision_at_split.desired, restored, start=time_at_split
    )
    assert after_restart == straight[split + 1 :]
