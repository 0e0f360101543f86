"""decide(): one observation in, a replica count and its reason out. Pure: no I/O, no clock.

The decision is a named pipeline, each step a small function returning a value
and the words that explain it:

1. size     -- the concurrency to size from, per window, and the wanted counts
               `ceil(concurrency / capacity)`. When the arrival-driven concurrency
               (arrival rate x mean service time) is known, the engine sizes from
               it rather than from the in-flight count, which includes the backlog
               a cold start builds up. With the queue known, the waiting requests
               add their drain concurrency (waiting x service time /
               `backlog_drain_time`) for as long as they wait: a transient part the
               scale-down window does not keep. With the queue unknown, the
               requests in service are a floor at the full concurrency target
               (see size_window). Within `scale_up_tolerance` of the current
               replicas the load wants no more than the current replicas.
2. burst    -- burst mode (Knative's panic mode): entered when the burst window
               needs at least `panic_threshold` x the standing replicas (burst
               concurrency / capacity, before rounding up, as Knative compares it:
               rounding would let 1.01 x one replica's capacity count as 2); while in
               it replicas only rise; left once the burst signal has stayed below
               the threshold for a whole stable window. Standing replicas are the
               ready ones plus those starting (capacity on the way), at most the
               current count: a cold start alone does not trigger burst mode.
3. window   -- the count wanted now goes into the scale-down window; the target is
               the window's maximum over the last `scale_down_delay` (see window.py).
               Wanted now is the stable window's count; in burst mode the larger of
               the stable and burst counts, so the peaks of recurring bursts keep
               their standing capacity for a whole delay. (Outside burst mode the
               burst window is noise below the threshold, as in Knative's stable
               mode; `follow_burst_in_stable_mode` sizes from it at every tick.)
               Counts above max are recorded as max: the window never holds more
               than max + 1 points (nor more than window.MAX_POINTS).
4. bound    -- clamp the target to [min, max].
5. move     -- scale up at once (at most `max_scale_up_rate` x current, at least +1);
               scale down by steps: each removes at most `max_scale_down_rate` of the
               excess (at least one replica) and steps are one `scale_down_delay`
               apart, so with the defaults 15 -> 1 goes 15, 8, 5, 3, 2, 1 at 900 s
               intervals once the load has been low for 900 s. No scale-down within
               min(stable window, delay) of the first observation (fresh start or
               restart whose status had no window), nor while a backlog worth at
               least one replica's capacity drains. Replicas started for a backlog
               (above every count the load asked for since the last scale-up, less
               than a delay ago) leave at once when it has drained, without steps
               (see started_for_backlog).

Every Decision says why in the HPA's words. reason: ScaleUp, ScaleDown,
ScaleDownStabilized (a lower count is wanted but the delay window, the step
spacing, the start guard, burst mode or a draining backlog holds it),
BacklogDrained (the replicas started for a backlog leave), Steady, TooManyReplicas /
TooFewReplicas (a bound holds the count where it is), Paused, MetricsUnavailable,
Initial. limited_by: what shaped a count (TooManyReplicas, TooFewReplicas,
ScaleUpLimit, ScaleDownLimit). message: the same in figures, e.g. "stable
concurrency 4.2 over 60 s / capacity 0.7 -> 6; clamped to max 5; 4 -> 5".

Unknown data holds (valid=False, memory unchanged). With one of the two windows
unknown the known one may still scale up, since it proves at least that much
load, but nothing scales down; its count goes into the window as a lower bound,
so a scale-up it made is held for the delay like any other. `paused` holds and leaves memory alone. A
deployment at zero replicas with an empty memory is being created: it gets
`initial_replicas` (default max(min, 1)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelscaler.engine.types import Decision, Memory, Mode, Observation, ScalingParams
from modelscaler.engine.window import Window, prune, record

# Float noise guard: 2.1 / 0.7 is 3.0000000000000004 and 4.2 / 0.7 is
# 6.000000000000001; neither should round up to one more replica.
_EPSILON = 1e-9


def _fmt(value: float) -> str:
    """A figure for messages: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# --- 1. size ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wanted:
    """A wanted replica count and the signal it came from (for the message).

    sustained / sustained_needed: the count (and the replicas needed before
    rounding) that the load itself asks for, without what a draining backlog adds
    (see size_window); None when nothing was added, i.e. equal to count / needed.
    Only the sustained count goes into the scale-down window.
    """

    count: int
    needed: float  # replicas needed before rounding up: concurrency / per_replica
    label: str  # e.g. "stable concurrency 4.2 over 60 s / capacity 0.7"
    sustained: int | None = None
    sustained_needed: float | None = None

    @property
    def remembered(self) -> int:
        """The count the scale-down window records: the sustained one."""
        return self.count if self.sustained is None else self.sustained

    @property
    def load_needed(self) -> float:
        """Replicas the load needs before rounding, without the backlog (burst mode compares it)."""
        return self.needed if self.sustained_needed is None else self.sustained_needed

    def describe(self) -> str:
        """The sizing sentence: "<signal> / capacity 0.7 -> 6"."""
        return f"{self.label} -> {self.count}"


def wanted_count(concurrency: float, per_replica: float) -> int:
    """Replicas needed to carry `concurrency` at `per_replica` each (0 for no load)."""
    if concurrency <= 0:
        return 0
    return max(0, math.ceil(concurrency / per_replica - _EPSILON))


def _sized(concurrency: float, per_replica: float, label: str) -> Wanted:
    return Wanted(wanted_count(concurrency, per_replica), max(concurrency, 0.0) / per_replica, label)


def backlog_concurrency(params: ScalingParams, obs: Observation) -> float | None:
    """The concurrency that drains the waiting requests in backlog_drain_time; None when unknown.

    waiting x service_time is the work the queue holds (slot-seconds); spread over
    the drain time it is a concurrency to add to the arrivals'. No queue drains
    faster than one service time, so the drain time is at least service_time: a
    waiting request never counts for more than one in flight (what the in-flight
    count gives it). A backlog worth less than one replica's capacity counts as 0
    (a few requests waiting for a slot are no reason to start a replica). None
    when the queue or the service time is unknown, or the drain term is off
    (backlog_drain_time 0).
    """
    if params.backlog_drain_time <= 0 or obs.waiting is None or obs.service_time is None:
        return None
    service = max(obs.service_time, 0.0)
    backlog = max(obs.waiting, 0.0) * service / max(params.backlog_drain_time, service)
    return backlog if backlog >= params.capacity - _EPSILON else 0.0


def is_draining(backlog: float | None) -> bool:
    """True while a backlog worth at least one replica's capacity waits: no scale-down then."""
    return backlog is not None and backlog > 0


def size_window(
    params: ScalingParams,
    window_name: str,
    window_seconds: float,
    in_flight: float | None,
    arrival: float | None,
    in_service: float | None,
    backlog: float | None = None,
) -> Wanted | None:
    """The wanted count from one window's signals, or None when the window is unknown.

    Prefers the arrival-driven concurrency at the capacity (target x utilization).
    When the queue is known (`backlog` not None, see backlog_concurrency), the
    arrivals plus its drain concurrency are sized at the full concurrency target
    (a backlog may use the headroom the utilization keeps; sizing it at the
    capacity too asked for more replicas for the same drain), and that count
    applies when it is the larger one. It is transient: the count rises, the
    sustained count (the one the scale-down window keeps) does not, so the
    replicas started for a cold start's backlog leave once it has drained (see
    started_for_backlog). When the queue is unknown, the requests in service
    are a floor at the full concurrency target instead: they show the replicas
    busy right now, and as an instantaneous count they peak well above their
    average, so sizing them with the headroom too would hold every peak through
    the scale-down delay. (With the queue known the floor is left out: right
    after a backlog drains every slot is busy with the queue's requests, and the
    floor held that count for a whole delay; the drain term covers what the
    arrivals miss. Measured in benchmarks/README.md.) Without arrivals, falls
    back to the in-flight concurrency (which counts queued requests) at the
    capacity.
    """
    at_capacity = f"over {_fmt(window_seconds)} s / capacity {_fmt(params.capacity)}"
    if arrival is not None:
        sustained = _sized(
            arrival, params.capacity, f"{window_name} arrival concurrency {_fmt(arrival)} {at_capacity}"
        )
        if backlog is None:
            if in_service is not None:
                service_label = f"in service {_fmt(in_service)} / target {_fmt(params.concurrency_target)}"
                from_service = _sized(in_service, params.concurrency_target, service_label)
                if from_service.count > sustained.count:
                    return from_service
            return sustained
        drain = f"backlog {_fmt(backlog)} drained in {_fmt(params.backlog_drain_time)} s"
        label = (
            f"{window_name} arrival concurrency {_fmt(arrival)} + {drain} over {_fmt(window_seconds)} s / "
            f"target {_fmt(params.concurrency_target)}"
        )
        with_backlog = _sized(arrival + backlog, params.concurrency_target, label)
        if with_backlog.count <= sustained.count:
            return sustained
        return Wanted(with_backlog.count, with_backlog.needed, label, sustained.count, sustained.needed)
    if in_flight is not None:
        return _sized(
            in_flight, params.capacity, f"{window_name} concurrency {_fmt(in_flight)} {at_capacity}"
        )
    return None


# --- 2. burst --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BurstState:
    """Burst mode after this tick, and what to say about it."""

    active: bool
    since: float | None
    below_since: float | None
    note: str = ""


def standing_replicas(obs: Observation) -> int:
    """Replicas serving or on the way (ready + starting), at most the current count."""
    return min(obs.current_replicas, obs.ready_replicas + obs.starting_replicas)


def update_burst_mode(
    params: ScalingParams, memory: Memory, burst: Wanted, standing: int, now: float
) -> BurstState:
    """Enters, keeps or leaves burst mode from the burst window's wanted count."""
    base = max(standing, 1)
    threshold = params.panic_threshold * base
    needed = burst.load_needed
    if needed >= threshold - _EPSILON:
        entering = memory.burst_mode_since is None
        since = now if memory.burst_mode_since is None else memory.burst_mode_since
        verb = "entered" if entering else "held"
        note = (
            f"burst needs {_fmt(needed)} replicas >= {_fmt(params.panic_threshold)} x {base} standing: "
            f"burst mode {verb}"
        )
        return BurstState(True, since, None, note)
    if memory.burst_mode_since is None:
        return BurstState(False, None, None)
    below_since = now if memory.burst_below_since is None else memory.burst_below_since
    below_for = now - below_since
    if below_for >= params.stable_window:
        return BurstState(
            False, None, None, f"burst below threshold for {_fmt(below_for)} s: burst mode left"
        )
    note = (
        f"burst mode: below threshold for {_fmt(below_for)} s, "
        f"leaves after {_fmt(params.stable_window)} s; replicas only rise"
    )
    return BurstState(True, memory.burst_mode_since, below_since, note)


# --- 3. window -------------------------------------------------------------------------------


def observe(params: ScalingParams, memory: Memory, now: float, wanted: int) -> tuple[Window, float | None]:
    """Records the wanted count (at most max) in the pruned window; returns it and observing_since.

    An empty stored window means nothing was ever observed (fresh start, or a
    restart whose status kept no window): observation (re)starts now.
    """
    observing_since = now if not memory.window else memory.observing_since
    pruned = prune(memory.window, now, params.scale_down_delay)
    return record(pruned, now, min(wanted, params.max_replicas)), observing_since


# --- 4. bound and 5. move --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """A pipeline step's result: the replica count, the reason word, and the words behind it."""

    replicas: int
    reason: str
    limited_by: str | None = None
    note: str = ""


def clamp_to_bounds(target: int, params: ScalingParams) -> Step:
    """Clamps the target to [min, max]; limited_by says which bound bit."""
    if target > params.max_replicas:
        return Step(
            params.max_replicas, "TooManyReplicas", "TooManyReplicas", f"clamped to max {params.max_replicas}"
        )
    if target < params.min_replicas:
        return Step(
            params.min_replicas, "TooFewReplicas", "TooFewReplicas", f"raised to min {params.min_replicas}"
        )
    return Step(target, "")


def limit_scale_up(current: int, target: int, params: ScalingParams) -> Step:
    """Scales up at once, to at most max_scale_up_rate x current (from zero: x 1), and by at least one."""
    base = max(current, 1)
    limit = max(current + 1, math.floor(base * params.max_scale_up_rate + _EPSILON))
    if target > limit:
        note = f"limited to {limit} by max scale-up rate {_fmt(params.max_scale_up_rate)} x {base}"
        return Step(limit, "ScaleUp", "ScaleUpLimit", note)
    return Step(target, "ScaleUp")


def step_down(
    current: int,
    target: int,
    params: ScalingParams,
    memory: Memory,
    observing_since: float | None,
    now: float,
) -> Step:
    """One scale-down step towards `target`, or a hold while the start guard or the step spacing runs."""
    guard = min(params.stable_window, params.scale_down_delay)
    if observing_since is not None and now - observing_since < guard:
        observed = now - observing_since
        note = f"observing for {_fmt(observed)} s of {_fmt(guard)} s before any scale-down"
        return Step(current, "ScaleDownStabilized", None, note)
    last_down = memory.last_scale_down_time
    if last_down is not None and now - last_down < params.scale_down_delay:
        since = now - last_down
        note = (
            f"last step down {_fmt(since)} s ago; next step in {_fmt(params.scale_down_delay - since)} s "
            f"(steps {_fmt(params.scale_down_delay)} s apart)"
        )
        return Step(current, "ScaleDownStabilized", None, note)
    excess = current - target
    removable = max(1, math.floor(params.max_scale_down_rate * excess + _EPSILON))
    if removable < excess:
        rate = _fmt(params.max_scale_down_rate)
        note = f"step removes {removable} of {excess} excess (max scale-down rate {rate})"
        return Step(current - removable, "ScaleDown", "ScaleDownLimit", note)
    return Step(target, "ScaleDown")


def move(
    current: int,
    bounded: Step,
    params: ScalingParams,
    memory: Memory,
    observing_since: float | None,
    now: float,
    window_max: int,
) -> Step:
    """Applies the rate limits to move from `current` towards the bounded target."""
    if bounded.replicas > current:
        return limit_scale_up(current, bounded.replicas, params)
    if current > params.max_replicas:
        # A lowered max applies at once; the steps continue from there.
        note = f"above max {params.max_replicas}: down to it at once"
        return Step(params.max_replicas, "ScaleDown", "TooManyReplicas", note)
    if bounded.replicas < current:
        if started_for_backlog(current, window_max, params, memory, observing_since, now):
            note = (
                f"the {current - bounded.replicas} replicas above the {bounded.replicas} the load asks for "
                "were started for a backlog, now drained: removed at once"
            )
            return Step(bounded.replicas, "BacklogDrained", None, note)
        return step_down(current, bounded.replicas, params, memory, observing_since, now)
    return Step(current, bounded.reason or "Steady")


def started_for_backlog(
    current: int,
    window_max: int,
    params: ScalingParams,
    memory: Memory,
    observing_since: float | None,
    now: float,
) -> bool:
    """True when the replicas above the window maximum were started for a backlog, not for the load.

    The last change was a scale-up, less than one delay ago, observed with a
    window (not the creation, nor a restart that lost it): a scale-up the load
    asked for is in the window, so `current > window_max` means the count above
    it came only from a backlog's drain term, which the window never keeps. Those replicas leave at once when
    the backlog is gone, instead of by delayed steps.
    """
    last_up = memory.last_scale_time
    if last_up is None or observing_since is None or observing_since >= last_up:
        return False
    last_down = memory.last_scale_down_time
    if last_down is not None and last_down >= last_up:
        return False
    return now - last_up < params.scale_down_delay and current > window_max


# --- the pipeline ----------------------------------------------------------------------------


def _inputs(params: ScalingParams, obs: Observation) -> dict[str, float]:
    """The figures behind a decision (unknown signals left out)."""
    figures: dict[str, float | None] = {
        "capacity": params.capacity,
        "currentReplicas": obs.current_replicas,
        "readyReplicas": obs.ready_replicas,
        "startingReplicas": obs.starting_replicas,
        "stableConcurrency": obs.stable_concurrency,
        "burstConcurrency": obs.burst_concurrency,
        "arrivalConcurrencyStable": obs.arrival_concurrency_stable,
        "arrivalConcurrencyBurst": obs.arrival_concurrency_burst,
        "inService": obs.in_service,
        "waiting": obs.waiting,
        "serviceTime": obs.service_time,
    }
    return {key: float(value) for key, value in figures.items() if value is not None}


def _summary(current: int, desired: int) -> str:
    return f"{current} -> {desired}" if desired != current else f"holding {current}"


def _message(notes: list[str], current: int, desired: int) -> str:
    return "; ".join([*(note for note in notes if note), _summary(current, desired)])


def decide(params: ScalingParams, obs: Observation, memory: Memory, now: float) -> tuple[Decision, Memory]:
    """The replica count for this tick and the memory for the next one.

    Pure: the same arguments always give the same answer, and `memory` after a
    Memory.to_dict/from_dict round trip gives the same future as without it.
    """
    if params.capacity <= 0:
        raise ValueError(f"capacity must be positive, got {params.capacity}")
    # Status keeps times to the millisecond; deciding on the same milliseconds makes a
    # restart (memory to status and back) exact for any clock, not just whole seconds.
    now = round(now, 3)
    current = obs.current_replicas
    inputs = _inputs(params, obs)
    if params.paused:
        message = f"autoscaling paused; holding {current}"
        return Decision(current, current, Mode.PAUSED, "Paused", message, inputs=inputs), memory
    backlog = backlog_concurrency(params, obs)
    stable = size_window(
        params,
        "stable",
        params.stable_window,
        obs.stable_concurrency,
        obs.arrival_concurrency_stable,
        obs.in_service,
        backlog,
    )
    burst = size_window(
        params,
        "burst",
        params.panic_window,
        obs.burst_concurrency,
        obs.arrival_concurrency_burst,
        obs.in_service,
        backlog,
    )
    if current == 0 and memory == Memory():
        return _initial(params, stable, burst, now, inputs)
    if stable is None and burst is None:
        reason_text = obs.unknown_reason or "no data"
        message = f"concurrency unknown ({reason_text}); holding {current}"
        decision = Decision(
            current, current, Mode.HOLDING, "MetricsUnavailable", message, valid=False, inputs=inputs
        )
        return decision, memory
    if stable is None or burst is None:
        return _on_partial_data(params, obs, memory, now, stable, burst, inputs)
    return _on_full_data(params, obs, memory, now, stable, burst, backlog, inputs)


def _initial(
    params: ScalingParams, stable: Wanted | None, burst: Wanted | None, now: float, inputs: dict[str, float]
) -> tuple[Decision, Memory]:
    """Creation: start `initial_replicas` (or what a known signal already wants, if more)."""
    initial = params.initial_replicas if params.initial_replicas is not None else max(params.min_replicas, 1)
    known = [wanted.count for wanted in (stable, burst) if wanted is not None]
    wanted = max([initial, *known])
    bounded = clamp_to_bounds(wanted, params)
    notes = [f"creating with initial replicas {initial}"]
    notes += [w.describe() for w in (stable, burst) if w is not None and w.count > initial]
    notes.append(bounded.note)
    decision = Decision(
        desired=bounded.replicas,
        current=0,
        mode=Mode.STABLE,
        reason="Initial",
        message=_message(notes, 0, bounded.replicas),
        wanted_stable=stable.count if stable else None,
        wanted_burst=burst.count if burst else None,
        wanted_unclamped=wanted,
        limited_by=bounded.limited_by,
        inputs=inputs,
    )
    return decision, Memory(observing_since=now, last_scale_time=now if bounded.replicas else None)


def _on_partial_data(
    params: ScalingParams,
    obs: Observation,
    memory: Memory,
    now: float,
    stable: Wanted | None,
    burst: Wanted | None,
    inputs: dict[str, float],
) -> tuple[Decision, Memory]:
    """One window unknown: the known one may scale up (it proves that much load), never down."""
    known = stable if stable is not None else burst
    assert known is not None  # decide() routes here only with one window known
    unknown_name = "stable" if stable is None else "burst"
    current = obs.current_replicas
    window, observing_since = observe(params, memory, now, known.remembered)
    bounded = clamp_to_bounds(known.count, params)
    notes = [
        f"{unknown_name} concurrency unknown ({obs.unknown_reason or 'no data'})",
        known.describe(),
    ]
    if bounded.replicas > current:
        step = limit_scale_up(current, bounded.replicas, params)
        mode = Mode.STABLE if memory.burst_mode_since is None else Mode.BURST
        reason, valid = step.reason, True
        notes += [bounded.note, step.note]
    else:
        step = Step(current, "MetricsUnavailable")
        mode, reason, valid = Mode.HOLDING, "MetricsUnavailable", False
        notes.append("no scale-down on partial data")
    decision = Decision(
        desired=step.replicas,
        current=current,
        mode=mode,
        reason=reason,
        message=_message(notes, current, step.replicas),
        valid=valid,
        wanted_stable=stable.count if stable else None,
        wanted_burst=burst.count if burst else None,
        wanted_unclamped=known.remembered,
        limited_by=step.limited_by or bounded.limited_by,
        inputs=inputs,
    )
    burst_state = BurstState(
        memory.burst_mode_since is not None, memory.burst_mode_since, memory.burst_below_since
    )
    return decision, _remember(memory, now, current, step.replicas, window, observing_since, burst_state)


def _on_full_data(
    params: ScalingParams,
    obs: Observation,
    memory: Memory,
    now: float,
    stable: Wanted,
    burst: Wanted,
    backlog: float | None,
    inputs: dict[str, float],
) -> tuple[Decision, Memory]:
    """Both windows known: size, burst mode, window max, bound, move."""
    current = obs.current_replicas
    standing = standing_replicas(obs)
    burst_state = update_burst_mode(params, memory, burst, standing, now)
    follows_burst = burst_state.active or params.follow_burst_in_stable_mode
    leading = burst if follows_burst and burst.count > stable.count else stable
    wanted = leading.count
    remembered = leading.remembered
    tolerance_note = ""
    if current < wanted and leading.needed <= current * (1 + params.scale_up_tolerance) + _EPSILON:
        tolerance_note = (
            f"needs {_fmt(leading.needed)} replicas, within tolerance "
            f"{_fmt(params.scale_up_tolerance)} of {current}"
        )
        wanted = current
        remembered = min(remembered, current)
    window, observing_since = observe(params, memory, now, remembered)
    head = window[0]
    target = max(head.wanted, wanted)
    notes = [leading.describe(), tolerance_note, burst_state.note]
    held = False
    if burst_state.active and target < current:
        target, held = current, True
    elif is_draining(backlog) and target < current:
        target, held = current, True
        notes.append(f"backlog {_fmt(backlog or 0.0)} draining (at least one replica's worth): no scale-down")
    elif wanted < current and head.wanted > wanted:
        held = head.wanted >= current
        age = now - head.time
        notes.append(
            f"{head.wanted} wanted {_fmt(age)} s ago holds for {_fmt(params.scale_down_delay - age)} s more "
            f"(scale-down delay {_fmt(params.scale_down_delay)} s)"
        )
    bounded = clamp_to_bounds(target, params)
    step = move(current, bounded, params, memory, observing_since, now, head.wanted)
    reason = "ScaleDownStabilized" if held and step.replicas == current else step.reason
    notes += [bounded.note, step.note]
    mode = Mode.BURST if burst_state.active else Mode.STABLE
    decision = Decision(
        desired=step.replicas,
        current=current,
        mode=mode,
        reason=reason,
        message=_message(notes, current, step.replicas),
        wanted_stable=stable.count,
        wanted_burst=burst.count,
        wanted_unclamped=max(head.wanted, remembered),
        limited_by=step.limited_by or bounded.limited_by,
        inputs={**inputs, "wantedStable": stable.count, "wantedBurst": burst.count, "windowMax": head.wanted},
    )
    return decision, _remember(memory, now, current, step.replicas, window, observing_since, burst_state)


def _remember(
    memory: Memory,
    now: float,
    current: int,
    desired: int,
    window: Window,
    observing_since: float | None,
    burst_state: BurstState,
) -> Memory:
    """The memory after a tick that observed load: the new window, burst state and scale times."""
    return Memory(
        window=window,
        burst_mode_since=burst_state.since,
        burst_below_since=burst_state.below_since,
        last_scale_time=now if desired != current else memory.last_scale_time,
        last_scale_down_time=now if desired < current else memory.last_scale_down_time,
        observing_since=observing_since,
    )
