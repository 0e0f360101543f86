"""What the diagnosis rules read: a bounded timeline of ticks, scale events and restarts.

The operator appends one `Sample` per tick per deployment (kept in memory, bounded)
and the simulator does the same per decision interval, so the same rules run on a
live cluster and on a replayed trace. Times are seconds on the caller's clock.
None means the signal was unknown at that tick (never zero).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One tick of one deployment."""

    time: float
    desired_replicas: int
    ready_replicas: int
    starting_replicas: int
    # The engine's wanted count before clamping to [min, max] (None when it held).
    wanted_replicas: int | None = None
    min_replicas: int = 1
    max_replicas: int = 1
    concurrency: float | None = None  # stable-window concurrency (in flight + queued)
    arrival_concurrency: float | None = None  # arrival rate x mean service time
    request_rate: float | None = None  # requests per second
    latency_p50: float | None = None  # seconds
    latency_p95: float | None = None
    latency_p99: float | None = None
    error_rate: float | None = None  # share of 5xx responses, 0..1
    queue_size: float | None = None  # async queue length
    kv_cache_usage: float | None = None  # 0..1 (vLLM / SGLang)
    waiting_requests: float | None = None  # engine queue (vLLM waiting / SGLang queue)
    metrics_valid: bool = True


@dataclass(frozen=True, slots=True)
class ScaleEvent:
    """A replica-count change the engine applied."""

    time: float
    from_replicas: int
    to_replicas: int
    reason: str = ""

    @property
    def direction(self) -> int:
        return (self.to_replicas > self.from_replicas) - (self.to_replicas < self.from_replicas)


@dataclass(frozen=True, slots=True)
class RestartEvent:
    """A container restart seen on one of the deployment's pods.

    reason: lastState.terminated.reason as Kubernetes reports it ("OOMKilled",
    "Error", "Completed", ...); exit_code its exit code; was_ready whether the pod
    had ever been Ready before this restart (False = crash during model load);
    liveness_failed whether the kubelet killed it for a failing liveness probe
    (from the pod's events or a termination message); pod_template_hash lets a
    rolling update's replacement be told apart from a restart.
    """

    time: float
    pod: str
    container: str
    reason: str
    exit_code: int | None = None
    was_ready: bool = True
    liveness_failed: bool = False
    pod_template_hash: str | None = None


@dataclass(frozen=True, slots=True)
class PodStart:
    """A pod that became Ready: how long it took from creation (the cold start)."""

    time: float  # when it became Ready
    pod: str
    seconds_to_ready: float
