"""What the user asks for: the ModelDeployment's spec.

Every rule is stated once: OpenAPI constraints through pydantic's Field, and
the rest as `FieldRule`/`ObjectRule` pairs of CEL and Python (see rules.py), so
the API server and the operator refuse the same input.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictInt, StrictStr, StringConstraints, WithJsonSchema

from modelscaler.api.durations import DURATION_MAX_LENGTH, DURATION_PATTERN, format_duration, parse_duration
from modelscaler.api.rules import FieldRule, ObjectRule, SpecModel
from modelscaler.api.template import (
    LABEL_VALUE_PATTERN,
    POD_TEMPLATE_SCHEMA,
    PORT_NAME_MAX_LENGTH,
    PORT_NAME_PATTERN,
    container_port_names,
    template_problems,
)

Engine = Literal["auto", "generic", "vllm", "sglang"]
# The longest override the metrics module accepts (metrics.overrides.MAX_TEMPLATE_LENGTH).
PROMQL_MAX_LENGTH = 4000


def _duration_between(low: float, high: float) -> FieldRule:
    low_text, high_text = format_duration(low), format_duration(high)
    return FieldRule(
        # An unparsable value is refused by the pattern; the guard keeps CEL from adding a conversion error.
        cel=f"!self.matches('{DURATION_PATTERN}') || "
        f"(duration(self) >= duration('{low_text}') && duration(self) <= duration('{high_text}'))",
        message=f"must be between {low_text} and {high_text}",
        holds=lambda text: low <= parse_duration(text) <= high,
    )


# The pattern admits exactly what parse_duration (and CEL's duration()) reads.
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN, max_length=DURATION_MAX_LENGTH)]


def _port_in_range(port: int | str) -> bool:
    return not isinstance(port, int) or 1 <= port <= 65535


def _port_name_ok(port: int | str) -> bool:
    if isinstance(port, int):
        return True
    return (
        len(port) <= PORT_NAME_MAX_LENGTH
        and re.search(PORT_NAME_PATTERN, port) is not None
        and re.search("[a-z]", port) is not None
    )


Port = Annotated[
    StrictInt | StrictStr,
    WithJsonSchema({"x-kubernetes-int-or-string": True, "maxLength": PORT_NAME_MAX_LENGTH}),
    FieldRule(
        cel="type(self) != int || (self >= 1 && self <= 65535)",
        message="a port number must be between 1 and 65535",
        holds=_port_in_range,
    ),
    FieldRule(
        cel=f"type(self) == int || (self.matches('{PORT_NAME_PATTERN}') && self.matches('[a-z]'))",
        message="a port name must be a container port's name: at most 15 lowercase letters, digits and "
        "'-', with at least one letter (write a number without quotes)",
        holds=_port_name_ok,
    ),
]


def _template_valid(template: dict[str, Any]) -> dict[str, Any]:
    problems = template_problems(template)
    if problems:
        raise ValueError("; ".join(problems))
    return template


PodTemplate = Annotated[dict[str, Any], WithJsonSchema(POD_TEMPLATE_SCHEMA), AfterValidator(_template_valid)]


class ServingSpec(SpecModel):
    """How the model server is reached and which metrics it exports."""

    port: Port = "http"
    """The port the Service targets and Prometheus scrapes: a container port's name (e.g. http), which
    must be declared in the template, or a number."""

    engine: Engine = "auto"
    """Which series stand for concurrency: vllm (vllm:num_requests_running + waiting), sglang
    (sglang:num_running_reqs + num_queue_reqs), generic (an HTTP request-duration histogram, by Little's
    law), or auto (recognised from the series that exist)."""

    metrics_path: str = Field(default="/metrics", max_length=256, pattern=r"^/[^\s?#]*$")
    """The HTTP path of the server's Prometheus metrics."""


class AutoscalingSpec(SpecModel):
    """How the replica count follows concurrency. Defaults follow Baseten's documented ones."""

    object_rules = (
        ObjectRule(
            cel="self.minReplicas <= self.maxReplicas",
            message="minReplicas must not exceed maxReplicas",
            holds=lambda a: a.min_replicas <= a.max_replicas,
            field_path=".minReplicas",
        ),
        ObjectRule(
            cel="!has(self.initialReplicas) || "
            "(self.initialReplicas >= self.minReplicas && self.initialReplicas <= self.maxReplicas)",
            message="initialReplicas must be between minReplicas and maxReplicas",
            holds=lambda a: (
                a.initial_replicas is None or a.min_replicas <= a.initial_replicas <= a.max_replicas
            ),
            field_path=".initialReplicas",
        ),
        ObjectRule(
            cel=f"!self.panicWindow.matches('{DURATION_PATTERN}') || "
            f"!self.autoscalingWindow.matches('{DURATION_PATTERN}') || "
            "duration(self.panicWindow) <= duration(self.autoscalingWindow)",
            message="panicWindow must not be longer than autoscalingWindow",
            holds=lambda a: parse_duration(a.panic_window) <= parse_duration(a.autoscaling_window),
            field_path=".panicWindow",
        ),
    )

    min_replicas: int = Field(default=1, ge=0, le=10000)
    """Fewest replicas. 0 allows scaling to zero, which needs a demand signal while no replica runs
    (an activator, a custom query or an async queue); without one the operator refuses it with a
    condition."""

    max_replicas: int = Field(default=1, ge=1, le=10000)
    """Most replicas."""

    initial_replicas: int | None = Field(default=None, ge=0, le=10000)
    """Replicas at creation; by default minReplicas, at least 1."""

    concurrency_target: float = Field(default=1.0, gt=0, le=100000)
    """In-flight requests (running and queued) one replica is meant to carry."""

    target_utilization: Annotated[
        float,
        FieldRule(
            cel="self > 0.0 && self <= 1.0",
            message="targetUtilization must be in (0, 1]",
            holds=lambda value: 0 < value <= 1,
        ),
    ] = Field(default=0.7, gt=0, le=1)
    """Headroom: a replica counts as full at concurrencyTarget x targetUtilization."""

    autoscaling_window: Annotated[Duration, _duration_between(10, 3600)] = "60s"
    """The stable window over which concurrency is averaged (10s to 1h)."""

    scale_down_delay: Annotated[Duration, _duration_between(0, 3600)] = "900s"
    """How long the wanted count must stay lower before replicas are removed; replicas scale down to the
    highest count wanted within this delay (0s to 1h)."""

    max_scale_down_rate: float = Field(default=0.5, gt=0, le=1)
    """Share of the excess replicas removed per scale-down step (at least one replica), steps one
    scaleDownDelay apart."""

    max_scale_up_rate: float = Field(default=1000.0, ge=1, le=1000000)
    """Most replicas one scale-up may reach, as a multiple of the current count (adding one replica is
    always allowed)."""

    panic_window: Annotated[Duration, _duration_between(1, 3600)] = "6s"
    """The burst window: a short average that detects bursts (1s up to autoscalingWindow)."""

    # Bounds stay whole numbers: kube-apiserver compares an integer value with a fractional minimum
    # after truncating the minimum (1 passes "minimum: 1.1"), so "> 1" is written as exclusiveMinimum.
    panic_threshold: float = Field(default=2.0, gt=1, le=10)
    """Burst mode starts when the burst window wants this many times the ready replicas; replicas then
    only rise until the burst has stayed below it for a whole autoscalingWindow."""

    paused: bool = False
    """Holds the replica count where it is; metrics and diagnosis go on."""


class LatencyObjective(SpecModel):
    """The response time the model is meant to meet, e.g. 95 % of requests within 2 s."""

    percentile: Literal[50, 90, 95, 99] = 95
    """Which percentile is held to the objective: 50, 90, 95 or 99."""

    seconds: float = Field(default=2.0, gt=0, le=3600)
    """The objective in seconds (end to end, or to the first token for streaming servers)."""


class DiagnosisSpec(SpecModel):
    """Thresholds the diagnosis rules use when they judge the recent history."""

    latency_objective: LatencyObjective = Field(
        default_factory=LatencyObjective, json_schema_extra={"default": LatencyObjective().to_wire()}
    )
    """The latency objective: rules such as CapacityExhausted and ConcurrencyTargetTooHigh fire only while
    it is missed."""

    restart_threshold: int = Field(default=3, ge=1, le=1000)
    """Container restarts per hour across the deployment's pods before FrequentRestarts is raised."""

    lookback: Annotated[Duration, _duration_between(300, 86400)] = "1h"
    """How much recent history the rules judge (5m to 24h)."""

    cold_start_threshold: Annotated[Duration, _duration_between(1, 3600)] = "2m"
    """A pod's time from creation to Ready above which ColdStartDelay may be raised (1s to 1h)."""

    low_utilization: float = Field(default=0.3, gt=0, lt=1)
    """Overprovisioned is raised when concurrency per replica stays below this share of the capacity
    (concurrencyTarget x targetUtilization) for the whole lookback with replicas above minReplicas."""

    kv_cache_saturation: float = Field(default=0.9, gt=0, le=1)
    """KV-cache usage (vLLM, SGLang) at or above which, with requests waiting, KVCacheSaturated is raised."""

    time_scale: Annotated[
        float,
        FieldRule(
            # A fractional minimum in the schema would be truncated by the API server: CEL states it.
            cel="self >= 0.01 && self <= 1.0",
            message="timeScale must be between 0.01 and 1",
            holds=lambda value: 0.01 <= value <= 1,
        ),
    ] = Field(default=1.0, gt=0, le=1)
    """Multiplies every duration the rules judge by (their windows, how long evidence must last, how long a
    condition is held, the restart window; lookback and coldStartThreshold included): 0.1 judges a
    deployment whose traffic and settings run 10x faster on a 10x shorter history (0.01 to 1)."""


PromQL = Annotated[str, StringConstraints(min_length=1, max_length=PROMQL_MAX_LENGTH)]


class MetricsOverrides(SpecModel):
    """Custom PromQL per signal, replacing the built-in query for this deployment; a signal left out keeps
    the built-in one (which covers generic servers, vLLM and SGLang). A query may use $window (the
    signal's window, e.g. 60s) and, for latency, $quantile; the operator adds the deployment's namespace
    matcher to every selector. The result must keep the namespace and modeldeployment labels, e.g.
    sum by (namespace, modeldeployment) (...)."""

    concurrency: PromQL | None = None
    """In-flight requests (running and queued) across the deployment."""

    arrival_rate: PromQL | None = None
    """Requests arriving per second."""

    service_time: PromQL | None = None
    """Mean time a request takes to be served, in seconds."""

    latency: PromQL | None = None
    """Response-time histogram bucket rates by le; the percentiles are computed from them."""

    request_rate: PromQL | None = None
    """Completed requests per second, with a status_class label (2xx, 4xx, 5xx)."""

    errors: PromQL | None = None
    """Failed (5xx) requests per second."""

    queue_size: PromQL | None = None
    """Length of the async request queue."""

    kv_cache_usage: PromQL | None = None
    """KV-cache usage, 0 to 1 (vLLM, SGLang)."""


class ModelDeploymentSpec(SpecModel):
    """What to run and how to scale it: a model server's pods, scaled on request concurrency."""

    object_rules = (
        ObjectRule(
            cel="!has(self.serving) || !has(self.serving.port) || type(self.serving.port) == int || "
            "!has(self.template.spec) || !has(self.template.spec.containers) || "
            "size(self.template.spec.containers) == 0 || "
            "self.template.spec.containers.exists(c, has(c.ports) && "
            "c.ports.exists(p, has(p.name) && p.name == self.serving.port))",
            message="serving.port names no port of any container in template.spec.containers[].ports",
            holds=lambda s: (
                isinstance(s.serving.port, int) or s.serving.port in container_port_names(s.template)
            ),
            field_path=".serving.port",
        ),
    )

    environment: str | None = Field(default=None, max_length=63, pattern=LABEL_VALUE_PATTERN)
    """The environment this deployment belongs to (e.g. production, staging): a label value that scopes
    environment-wide views (dashboards, kubectl -l)."""

    template: PodTemplate
    """The model server's pods: a core/v1 PodTemplateSpec with at least one container."""

    serving: ServingSpec = Field(
        default_factory=ServingSpec, json_schema_extra={"default": ServingSpec().to_wire()}
    )
    """How the server is reached and which metrics it exports."""

    autoscaling: AutoscalingSpec = Field(
        default_factory=AutoscalingSpec, json_schema_extra={"default": AutoscalingSpec().to_wire()}
    )
    """How the replica count follows concurrency."""

    diagnosis: DiagnosisSpec = Field(
        default_factory=DiagnosisSpec, json_schema_extra={"default": DiagnosisSpec().to_wire()}
    )
    """Thresholds of the diagnosis rules."""

    metrics: MetricsOverrides = Field(default_factory=MetricsOverrides)
    """Optional PromQL overrides per signal."""
