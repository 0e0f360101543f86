"""The diagnosis contract: what the rules read, the thresholds they use, and what they find.

All values are plain frozen dataclasses. Times are seconds on the caller's clock
(Unix time in the operator, trace time in the simulator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from modelscaler.engine.history import PodStart, RestartEvent, Sample, ScaleEvent


class ConditionType(StrEnum):
    """One condition type per problem; status True means the problem is present.

    The definition order is the order of severity: `summary()` reports the first
    True one, and `diagnose()` returns findings in this order.
    """

    FREQUENT_RESTARTS = "FrequentRestarts"
    CAPACITY_EXHAUSTED = "CapacityExhausted"
    KV_CACHE_SATURATED = "KVCacheSaturated"
    CONCURRENCY_TARGET_TOO_HIGH = "ConcurrencyTargetTooHigh"
    ASYNC_BACKPRESSURE = "AsyncBackpressure"
    COLD_START_DELAY = "ColdStartDelay"
    THRASHING = "Thrashing"
    SCALE_DOWN_TOO_FAST = "ScaleDownTooFast"
    OVERPROVISIONED = "Overprovisioned"


class ConditionStatus(StrEnum):
    """metav1.Condition status values."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A setting to change, in the spec's camelCase path, with the value the evidence asks for.

    current / suggested: as a user would write them in the spec ("5", "15m", "0.7",
    "12Gi"); current is "unknown" when the caller did not say.
    reason: why this value (the formula, in words); evidence: the figures behind it.
    """

    setting: str
    current: str
    suggested: str
    reason: str
    evidence: str

    def to_dict(self) -> dict[str, str]:
        """The status.recommendations item."""
        return {
            "setting": self.setting,
            "current": self.current,
            "suggested": self.suggested,
            "reason": self.reason,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Recommendation:
        """Reads `to_dict()` back; missing keys read as empty strings."""
        return cls(
            *(str(data.get(key, "")) for key in ("setting", "current", "suggested", "reason", "evidence"))
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule concluded at `now`, after hysteresis.

    reason: one CamelCase word; message: the evidence in figures and times.
    since: when the condition last turned True (None unless status is True).
    held: True while the condition is kept True by hysteresis although its
    evidence is no longer seen.
    """

    type: ConditionType
    status: ConditionStatus
    reason: str
    message: str
    recommendations: tuple[Recommendation, ...] = ()
    since: float | None = None
    held: bool = False

    @property
    def is_problem(self) -> bool:
        """True when the condition reports a problem (status True)."""
        return self.status is ConditionStatus.TRUE

    def to_condition(self) -> dict[str, str]:
        """The metav1.Condition fields this finding decides (the caller adds the times and generation)."""
        return {
            "type": self.type.value,
            "status": self.status.value,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class DiagnosisInput:
    """The bounded history of one deployment, plus a few facts about its pod template.

    samples: one per tick, in any order (sorted on use); None fields mean unknown.
    Each sample's min_replicas / max_replicas must be the settings in force at that tick.
    scale_events: the replica changes applied; when empty, they are derived from the
    samples' desired_replicas.
    current_template_hash: the pod-template-hash of the Deployment's newest
    ReplicaSet; restarts of pods of another template (being replaced by a rolling
    update) are not counted. None counts every restart.
    memory_limit_bytes, liveness_failure_threshold: the model container's current
    values, when known, so that recommendations can start from them.
    """

    samples: Sequence[Sample] = ()
    scale_events: Sequence[ScaleEvent] = ()
    restarts: Sequence[RestartEvent] = ()
    pod_starts: Sequence[PodStart] = ()
    current_template_hash: str | None = None
    memory_limit_bytes: int | None = None
    liveness_failure_threshold: int | None = None


@dataclass(frozen=True, slots=True)
class DiagnosisParams:
    """Every threshold of the rules, with its default. Durations in seconds.

    From the spec (spec.diagnosis):
      latency_percentile / latency_objective_seconds: the latency objective. The
      samples carry p50, p95 and p99; the smallest of them at or above the
      requested percentile is used (90 reads p95).
      restart_threshold: restarts per restart_window before FrequentRestarts.
    Shared:
      clear_after: a True condition stays True until its evidence has been absent
      this long (hysteresis).
      max_sample_gap: a sample stands for at most this long; a longer gap between
      ticks is missing data, not evidence.
    The rest belongs to one rule each (prefix = rule); docs/diagnosis.md explains them.
    """

    latency_percentile: float = 95.0
    latency_objective_seconds: float = 2.0
    restart_threshold: int = 3
    restart_window: float = 3600.0

    clear_after: float = 600.0
    max_sample_gap: float = 120.0

    # Thrashing: >= thrash_min_reversals direction reversals within thrash_lookback, each
    # swinging back over at least thrash_min_retrace of the replica change before it.
    thrash_lookback: float = 1200.0
    thrash_min_reversals: int = 3
    thrash_min_retrace: float = 0.5
    thrash_align_seconds: float = 30.0  # a latency spike "aligned" with a reversal is within this
    thrash_spike_factor: float = 1.5  # ... and at least this many times the median latency
    delay_margin: float = 1.2  # recommended scaleDownDelay = observed period x margin

    # CapacityExhausted: at max and wanting more for capacity_min_seconds of capacity_lookback,
    # with latency over the objective in capacity_over_objective_share of those ticks.
    capacity_lookback: float = 600.0
    capacity_min_seconds: float = 120.0
    capacity_over_objective_share: float = 0.5

    # ColdStartDelay: starting replicas >= cold_gap_share of desired (and >= 1) without a
    # break for cold_min_gap_seconds within cold_lookback. Base load for minReplicas: the
    # cold_base_percentile of the load over cold_base_window.
    cold_lookback: float = 900.0
    cold_min_gap_seconds: float = 120.0
    cold_gap_share: float = 0.3
    cold_base_window: float = 3600.0
    cold_base_percentile: float = 10.0

    # ConcurrencyTargetTooHigh: below max, no replica starting, latency over the objective,
    # per-replica load >= ctt_min_load_share x capacity and above what met the objective,
    # requests waiting (when known), for ctt_min_seconds of ctt_lookback. The load that met
    # the objective: the ctt_good_percentile of per-replica load over ticks within the
    # objective in ctt_reference_window (needs ctt_min_good_samples of them).
    ctt_lookback: float = 600.0
    ctt_min_seconds: float = 120.0
    ctt_min_load_share: float = 0.5
    ctt_reference_window: float = 3600.0
    ctt_good_percentile: float = 90.0
    ctt_min_good_samples: int = 5

    # ScaleDownTooFast: >= sdtf_min_count scale-ups within sdtf_soon_seconds of the
    # preceding scale-down, within sdtf_lookback.
    sdtf_lookback: float = 3600.0
    sdtf_soon_seconds: float = 600.0
    sdtf_min_count: int = 2

    # FrequentRestarts: recommended memory limit = current x oom_memory_factor; recommended
    # liveness failureThreshold = current x liveness_threshold_factor.
    oom_memory_factor: float = 1.5
    liveness_threshold_factor: float = 2.0

    # AsyncBackpressure: least-squares slope of the queue over async_window >= async_min_slope
    # (items/s) and growth over the window >= async_min_growth items, from >= async_min_samples.
    async_window: float = 300.0
    async_min_slope: float = 0.05
    async_min_growth: float = 10.0
    async_min_samples: int = 5

    # Overprovisioned: over overprov_window, Ready replicas always above the peak need and the load
    # per replica averaging below overprov_max_utilization of the capacity (target x utilization).
    overprov_window: float = 3600.0
    overprov_max_utilization: float = 0.3
    overprov_min_known_share: float = 0.8  # share of the window with history and a known load

    # KVCacheSaturated: KV usage >= kv_full_usage while requests wait, for kv_min_seconds of
    # kv_lookback. Recommended target keeps usage at kv_target_usage.
    kv_lookback: float = 300.0
    kv_full_usage: float = 0.9
    kv_min_seconds: float = 60.0
    kv_target_usage: float = 0.8
