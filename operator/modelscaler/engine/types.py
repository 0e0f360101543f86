"""The engine's inputs and outputs: plain frozen values, no I/O.

These types are the contract between the decision engine (`decide`), the
operator's control loop, the what-if simulator and the diagnosis rules. Times
are seconds as floats on whatever clock the caller injects (the operator uses
Unix time, the simulator uses trace time); the engine never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Mode(StrEnum):
    """What the engine was doing at its last decision (status.mode)."""

    STABLE = "Stable"
    BURST = "Burst"
    PAUSED = "Paused"
    HOLDING = "Holding"  # no valid data: replicas kept where they are


@dataclass(frozen=True, slots=True)
class ScalingParams:
    """The autoscaling settings of one ModelDeployment, in engine units (seconds, counts)."""

    min_replicas: int = 1
    max_replicas: int = 1
    concurrency_target: float = 1.0
    target_utilization: float = 0.7
    stable_window: float = 60.0
    scale_down_delay: float = 900.0
    max_scale_down_rate: float = 0.5
    panic_window: float = 6.0
    panic_threshold: float = 2.0
    # Most replicas one scale-up may add, as a multiple of the current count
    # (Knative's max-scale-up-rate); at least +1 is always allowed.
    max_scale_up_rate: float = 1000.0
    initial_replicas: int | None = None
    paused: bool = False
    # Outside burst mode the engine sizes from the stable window only (Knative's
    # stable mode): burst-window noise below the panic threshold neither scales up
    # nor, through the scale-down window, holds replicas. True sizes from
    # max(stable, burst) at every tick (more replicas, fewer latency misses).
    follow_burst_in_stable_mode: bool = False
    # Engine tuning, not user settings (no field in the ModelDeployment spec);
    # the defaults were chosen in the simulator (benchmarks/README.md).
    # backlog_drain_time: when the queue is known (Observation.waiting and
    # service_time), the waiting requests add waiting x service_time / this many
    # seconds (at least one service time) to the arrival-driven concurrency, the
    # sum sized at the full concurrency target: replicas to drain a cold start's
    # backlog, started only while it lasts (the scale-down window does not keep
    # them). Smaller drains faster and starts more; 0 ignores the queue. The new
    # replicas serve only after their cold start, so the drain takes about a
    # cold start whatever this is; it sets how many start.
    backlog_drain_time: float = 5.0
    # scale_up_tolerance: no scale-up while the load needs at most (1 + this) x
    # the current replicas (the HPA's tolerance, applied upwards only): the
    # noise of a 60-s average no longer adds a replica that the scale-down delay
    # then holds for a whole delay.
    scale_up_tolerance: float = 0.1

    @property
    def capacity(self) -> float:
        """Concurrency one replica carries at the target utilization."""
        return self.concurrency_target * self.target_utilization


@dataclass(frozen=True, slots=True)
class Observation:
    """What the signals said at `time`. None means unknown, never zero.

    stable_concurrency / burst_concurrency: time-averaged in-flight requests over
    the stable and burst windows (includes queued requests, so it grows with a
    backlog). arrival_concurrency_stable / _burst: arrival rate x mean service
    time over those windows, i.e. the concurrency the arrivals themselves need,
    whatever backlog a cold start has built; the engine sizes from
    max(arrival, in-service) when these are known.
    in_service: requests being served right now (not waiting), when known.
    waiting: requests queued in the servers right now, not yet in service, when known.
    service_time: mean service seconds of a request (the mean behind the arrival
    concurrency), when known. With both, the engine adds the backlog's drain
    concurrency (waiting x service_time / ScalingParams.backlog_drain_time).
    """

    time: float
    ready_replicas: int
    starting_replicas: int
    current_replicas: int
    stable_concurrency: float | None = None
    burst_concurrency: float | None = None
    arrival_concurrency_stable: float | None = None
    arrival_concurrency_burst: float | None = None
    in_service: float | None = None
    waiting: float | None = None
    service_time: float | None = None
    # Why the data is unknown, when it is (e.g. "query concurrency_stable failed: timeout").
    unknown_reason: str | None = None


@dataclass(frozen=True, slots=True)
class WindowPoint:
    """One point of the scale-down window: the wanted count seen at `time`."""

    time: float
    wanted: int


@dataclass(frozen=True, slots=True)
class Memory:
    """The engine's state between ticks; serialises into status.scaleDown and back.

    window: a monotone (strictly decreasing in `wanted`) list of points covering the
    last scale_down_delay seconds, whose first point is the window maximum.
    """

    window: tuple[WindowPoint, ...] = ()
    burst_mode_since: float | None = None
    burst_below_since: float | None = None
    last_scale_time: float | None = None
    last_scale_down_time: float | None = None
    # When the engine (or the operator process) started observing: no scale-down
    # happens within one stable window of it, so a restart with an empty window
    # makes no rash decision.
    observing_since: float | None = None

    def to_dict(self) -> dict[str, object]:
        """The compact wire form stored in status (camelCase keys, [[t, wanted], ...])."""
        out: dict[str, object] = {"window": [[round(p.time, 3), p.wanted] for p in self.window]}
        for key, value in (
            ("burstModeSince", self.burst_mode_since),
            ("burstBelowSince", self.burst_below_since),
            ("lastScaleTime", self.last_scale_time),
            ("lastScaleDownTime", self.last_scale_down_time),
            ("observingSince", self.observing_since),
        ):
            if value is not None:
                out[key] = round(value, 3)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> Memory:
        """Reads the wire form back; an absent or empty dict gives an empty memory."""
        if not data:
            return cls()
        raw_window = data.get("window") or []
        window: list[WindowPoint] = []
        if isinstance(raw_window, list):
            for item in raw_window:
                if isinstance(item, list | tuple) and len(item) == 2:
                    window.append(WindowPoint(float(item[0]), int(item[1])))

        def opt(key: str) -> float | None:
            value = data.get(key)
            return float(value) if isinstance(value, int | float) else None

        return cls(
            window=tuple(window),
            burst_mode_since=opt("burstModeSince"),
            burst_below_since=opt("burstBelowSince"),
            last_scale_time=opt("lastScaleTime"),
            last_scale_down_time=opt("lastScaleDownTime"),
            observing_since=opt("observingSince"),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one tick.

    desired: the replica count to apply (equal to current when nothing changes).
    valid: False when data was unknown and the engine held; the caller then keeps
    replicas and reports ScalingActive=False with `message`.
    reason: one CamelCase word (ScaleUp, ScaleDown, ScaleDownStabilized,
    TooManyReplicas, TooFewReplicas, ScaleUpLimit, ScaleDownLimit, Paused,
    MetricsUnavailable, Steady, Initial, ...), usable as a condition reason.
    message: the reason in figures, e.g. "stable concurrency 4.2 over 60 s /
    capacity 0.7 -> 6; clamped to max 5".
    inputs: the figures behind the decision, for status.lastDecision.inputs.
    wanted_unclamped: the count the load wants before the bounds (the delay
    window's maximum or the count wanted now, whichever is higher), without the
    transient part a draining backlog adds: what maxReplicas would have to allow.
    """

    desired: int
    current: int
    mode: Mode
    reason: str
    message: str
    valid: bool = True
    wanted_stable: int | None = None
    wanted_burst: int | None = None
    wanted_unclamped: int | None = None
    limited_by: str | None = None  # TooManyReplicas | TooFewReplicas | ScaleUpLimit | ScaleDownLimit
    inputs: dict[str, float] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.desired != self.current

    @property
    def direction(self) -> str:
        if self.desired > self.current:
            return "up"
        if self.desired < self.current:
            return "down"
        return "none"
