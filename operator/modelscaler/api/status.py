"""What the operator observed and decided: the ModelDeployment's status.

The operator is the only writer. Fields are optional (absent until known) and
unknown fields are ignored on reading, so an older or newer operator's status
still parses.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from modelscaler.api.conditions import Condition
from modelscaler.api.rules import WireModel

# The engine's modes (engine.types.Mode values; api does not import the engine).
StatusMode = Literal["Stable", "Burst", "Paused", "Holding"]
MAX_HISTORY = 20
MAX_CONDITIONS = 32
MAX_RECOMMENDATIONS = 16
MAX_DECISION_INPUTS = 32
MAX_WINDOW_POINTS = 1000

Timestamp = Annotated[str, Field(max_length=64, json_schema_extra={"format": "date-time"})]
Reason = Annotated[str, Field(max_length=128)]
Message = Annotated[str, Field(max_length=4096)]
Count = Annotated[int, Field(ge=0)]
# One point of the scale-down window, [unix seconds, wanted replicas]; ints stay ints on the wire.
WindowPoint = Annotated[
    list[int | float],
    Field(min_length=2, max_length=2),
    WithJsonSchema({"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}),
]


class StatusModel(WireModel):
    """A status part: lenient on read (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore")


class ConcurrencyStatus(StatusModel):
    """Requests in flight (running and queued), as the engine last saw them."""

    stable: float | None = None
    """Time-averaged concurrency over the autoscaling window, across all replicas."""

    burst: float | None = None
    """Time-averaged concurrency over the panic (burst) window."""

    per_replica: float | None = None
    """Stable concurrency per ready replica."""

    target: float | None = None
    """The concurrency one replica is sized for: concurrencyTarget x targetUtilization."""

    observed_at: Timestamp | None = None
    """When these figures were measured (RFC 3339)."""


class LatencyStatus(StatusModel):
    """Response-time percentiles in seconds over the autoscaling window (when the server has a histogram)."""

    p50: float | None = Field(default=None, ge=0)
    """Median response time, seconds."""

    p90: float | None = Field(default=None, ge=0)
    """90th percentile, seconds."""

    p95: float | None = Field(default=None, ge=0)
    """95th percentile, seconds."""

    p99: float | None = Field(default=None, ge=0)
    """99th percentile, seconds."""


class ScaleDownMemory(StatusModel):
    """The engine's memory between ticks, kept here so that an operator restart neither forgets a pending
    scale-down delay nor decides from an empty window. Times are Unix seconds."""

    window: list[WindowPoint] = Field(default_factory=list, max_length=MAX_WINDOW_POINTS)
    """The scale-down window, compacted: [time, wanted] points with wanted strictly decreasing; the first
    is the highest count wanted within scaleDownDelay."""

    burst_mode_since: float | None = None
    """When burst mode began (absent when not in burst mode)."""

    burst_below_since: float | None = None
    """Since when, in burst mode, the burst signal has stayed below the threshold."""

    last_scale_time: float | None = None
    """When the replica count last changed."""

    last_scale_down_time: float | None = None
    """When the replica count last went down."""

    observing_since: float | None = None
    """When the operator began observing; no scale-down happens within one autoscaling window of it."""


class HistoryEntry(StatusModel):
    """One replica-count change."""

    time: Timestamp
    """When it happened (RFC 3339)."""

    from_replicas: int = Field(alias="from", ge=0)
    """Replicas before."""

    to_replicas: int = Field(alias="to", ge=0)
    """Replicas after."""

    reason: Reason
    """One CamelCase word, e.g. ScaleUp, ScaleDownStabilized, TooManyReplicas, MetricsUnavailable."""

    message: Message = ""
    """The reason in figures, e.g. "stable concurrency 4.2 over 60s / capacity 0.7 -> 6; clamped to max 5"."""


class LastDecision(HistoryEntry):
    """The engine's last decision, in figures (to equals from when it kept the count)."""

    inputs: dict[str, float] = Field(default_factory=dict, max_length=MAX_DECISION_INPUTS)
    """The figures behind the decision, by name."""


class Recommendation(StatusModel):
    """A setting the diagnosis suggests changing, with the evidence behind it."""

    setting: str = Field(max_length=128)
    """The spec field, e.g. autoscaling.scaleDownDelay."""

    current: str = Field(max_length=128)
    """Its current value, as written in the spec."""

    suggested: str = Field(max_length=128)
    """The suggested value."""

    reason: str = Field(max_length=1024)
    """Why this value, in words (e.g. "cover the observed reversal period")."""

    evidence: Message = ""
    """What was observed, in figures."""


class ModelDeploymentStatus(StatusModel):
    """What the operator observed and decided (written only by the operator)."""

    observed_generation: int | None = Field(default=None, ge=0)
    """The metadata.generation of the spec last acted on."""

    replicas: Count | None = None
    """Pods of the model's Deployment."""

    ready_replicas: Count | None = None
    """Pods that are Ready (active, serving)."""

    starting_replicas: Count | None = None
    """Pods created but not yet Ready (cold starts)."""

    desired_replicas: Count | None = None
    """The replica count the operator last decided."""

    ready: str | None = Field(default=None, max_length=32)
    """readyReplicas/desiredReplicas for kubectl (e.g. 2/3); derived from the two counts when both are set."""

    selector: str | None = Field(default=None, max_length=1024)
    """The label selector of the model's pods, as a string."""

    concurrency: ConcurrencyStatus | None = None
    """Requests in flight as last measured."""

    latency: LatencyStatus | None = None
    """Response-time percentiles as last measured."""

    mode: StatusMode | None = None
    """Stable, Burst (replicas only rise), Paused (spec.autoscaling.paused) or Holding (no valid data,
    replicas kept)."""

    scale_down: ScaleDownMemory | None = None
    """The engine's memory (scale-down window, burst mode, last scale times)."""

    last_decision: LastDecision | None = None
    """Why the replica count is what it is."""

    history: list[HistoryEntry] = Field(default_factory=list, max_length=MAX_HISTORY)
    """The last replica-count changes, oldest first."""

    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """The state (Ready, ScalingActive, AbleToScale, ScalingLimited) and the diagnoses (True = problem)."""

    recommendations: list[Recommendation] = Field(default_factory=list, max_length=MAX_RECOMMENDATIONS)
    """Settings the diagnosis suggests changing."""

    diagnosis: str | None = Field(default=None, max_length=1024)
    """The first problem condition's reason, or Healthy (the DIAGNOSIS column)."""

    @model_validator(mode="after")
    def _derive_ready(self) -> ModelDeploymentStatus:
        if self.ready_replicas is not None and self.desired_replicas is not None:
            self.ready = f"{self.ready_replicas}/{self.desired_replicas}"
        return self
