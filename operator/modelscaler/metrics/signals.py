"""What one tick learned about one deployment, field by field, with a reason for each unknown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modelscaler.engine.types import Observation
from modelscaler.metrics.contract import Engine
from modelscaler.metrics.outcomes import Unknown

# The fields whose unknown-ness makes the scaling signal unknown, in the order reported.
SCALING_FIELDS = ("stable_concurrency", "burst_concurrency")


@dataclass(frozen=True, slots=True)
class Signals:
    """One deployment's signals at `time`. A None field is unknown; `unknown[field]` says why.

    Concurrencies count requests in the server (in service + waiting), time-averaged over
    the stable / burst window. Arrival concurrencies are arrival rate x mean service time.
    Rates are per second, latencies and service time in seconds, sizes in bytes,
    kv_cache_usage and error_rate in 0..1. volume_by_class maps "2xx", "4xx", "5xx", … to
    requests per second over the stable window.
    """

    namespace: str
    name: str
    time: float
    engine: Engine | None = None
    stable_window: float | None = None
    burst_window: float | None = None
    service_window: float | None = None
    stable_concurrency: float | None = None
    burst_concurrency: float | None = None
    arrival_concurrency_stable: float | None = None
    arrival_concurrency_burst: float | None = None
    in_service: float | None = None
    waiting: float | None = None
    request_rate: float | None = None
    request_rate_burst: float | None = None
    service_time: float | None = None
    latency_p50: float | None = None
    latency_p90: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    ttfb_p50: float | None = None
    ttfb_p95: float | None = None
    error_rate: float | None = None
    volume_by_class: Mapping[str, float] | None = None
    request_size_mean: float | None = None
    response_size_mean: float | None = None
    prompt_tokens_rate: float | None = None
    generation_tokens_rate: float | None = None
    async_queue_size: float | None = None
    kv_cache_usage: float | None = None
    sample_age: float | None = None  # seconds since the newest sample of the engine's series
    unknown: Mapping[str, Unknown] = field(default_factory=dict)

    def reason(self, field_name: str) -> str | None:
        """Why `field_name` is unknown (None when it is known)."""
        found = self.unknown.get(field_name)
        return found.reason if found else None

    @property
    def scaling_known(self) -> bool:
        """True when both concurrency windows are known."""
        return all(getattr(self, f) is not None for f in SCALING_FIELDS)

    def to_observation(
        self, ready_replicas: int, starting_replicas: int, current_replicas: int
    ) -> Observation:
        """The engine's Observation; replica counts come from the Kubernetes API via the caller."""
        reasons = [r for f in SCALING_FIELDS if (r := self.reason(f))]
        return Observation(
            time=self.time,
            ready_replicas=ready_replicas,
            starting_replicas=starting_replicas,
            current_replicas=current_replicas,
            stable_concurrency=self.stable_concurrency,
            burst_concurrency=self.burst_concurrency,
            arrival_concurrency_stable=self.arrival_concurrency_stable,
            arrival_concurrency_burst=self.arrival_concurrency_burst,
            in_service=self.in_service,
            waiting=self.waiting,
            service_time=self.service_time,
            unknown_reason="; ".join(dict.fromkeys(reasons)) if reasons else None,
        )
