"""The label contract and the metric names the operator reads, per serving engine.

Every pod the operator owns carries the pod label `serving.modelscaler.io/deployment`
with the ModelDeployment's name. Prometheus relabels that pod label to the series
label `modeldeployment` and the pod's namespace to `namespace` (docs/metrics.md shows
the PodMonitor and the plain scrape config). All queries group by those two labels.

Engine metric names were checked against vLLM's production-metrics docs (v0.10 to
v0.11, V1 engine: `vllm:kv_cache_usage_perc`, with the deprecated
`vllm:gpu_cache_usage_perc` read as a fallback for older servers) and SGLang's
production-metrics docs (v0.4/v0.5 series, `--enable-metrics`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

POD_LABEL = "serving.modelscaler.io/deployment"
"""The pod label the operator puts on every pod it owns; its value is the ModelDeployment name."""

META_POD_LABEL = "__meta_kubernetes_pod_label_serving_modelscaler_io_deployment"
"""The same label as Prometheus' Kubernetes service discovery presents it before relabelling."""

DEPLOYMENT_LABEL = "modeldeployment"
NAMESPACE_LABEL = "namespace"
POD_NAME_LABEL = "pod"

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def validate_label_name(name: str) -> str:
    """Returns `name` when it is a valid Prometheus label name, else raises ValueError."""
    if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
        raise ValueError(f"invalid Prometheus label name {name!r}: must match [a-zA-Z_][a-zA-Z0-9_]*")
    return name


@dataclass(frozen=True, slots=True)
class SeriesLabels:
    """The series labels that identify a deployment's series (validated label names)."""

    namespace: str = NAMESPACE_LABEL
    deployment: str = DEPLOYMENT_LABEL

    def __post_init__(self) -> None:
        validate_label_name(self.namespace)
        validate_label_name(self.deployment)
        if self.namespace == self.deployment:
            raise ValueError("the namespace and deployment labels must differ")

    @property
    def group(self) -> str:
        """The `by (...)` clause body shared by every batched query."""
        return f"{self.namespace}, {self.deployment}"


class Engine(StrEnum):
    """Which family of series stands for a deployment's load."""

    GENERIC = "generic"
    VLLM = "vllm"
    SGLANG = "sglang"


class EngineChoice(StrEnum):
    """What a spec may say: an engine, or `auto` (resolved from the series that exist)."""

    AUTO = "auto"
    GENERIC = "generic"
    VLLM = "vllm"
    SGLANG = "sglang"


@dataclass(frozen=True, slots=True)
class EngineMetrics:
    """The series one engine exports, by role. None: the engine exports nothing for that role.

    Histograms are named by their base name (the `_sum`, `_count`, `_bucket` series follow).
    """

    engine: Engine
    # Gauges whose sum is the number of requests in the server (in service + waiting).
    population: tuple[str, ...]
    in_service: str | None
    waiting: str | None
    latency_histogram: str  # end-to-end request duration, seconds
    first_byte_histogram: str  # time to first byte (generic) / first token (LLM engines)
    # Time spent queued inside the server before service (subtracted to get service time).
    queue_time_histogram: str | None
    # Time in service only, when the engine exports it directly (preferred over e2e - queue).
    service_time_histogram: str | None
    # A counter with an HTTP status label, and that label's name and value regex for the class.
    status_counter: str | None
    status_label: str | None
    status_class_regex: str | None
    status_counter_filter: str | None  # extra matcher on the status counter (e.g. API handlers only)
    request_size_histogram: str | None
    response_size_histogram: str | None
    prompt_tokens_counter: str | None
    generation_tokens_counter: str | None
    kv_cache_usage: tuple[str, ...]  # gauges, first one found wins (current name, then deprecated)
    # A series that every pod of this engine exports at every scrape: detection and freshness.
    presence: tuple[str, ...]


ASYNC_QUEUE_GAUGE = "modelscaler_async_queue_size"
"""The async queue gauge of our contract; read for every engine (a sidecar may export it)."""

GENERIC = EngineMetrics(
    engine=Engine.GENERIC,
    population=("modelscaler_requests_in_flight",),
    in_service=None,  # in flight minus waiting, built by the query builder
    waiting="modelscaler_requests_waiting",
    latency_histogram="modelscaler_request_duration_seconds",
    first_byte_histogram="modelscaler_time_to_first_byte_seconds",
    queue_time_histogram="modelscaler_request_queue_seconds",
    service_time_histogram=None,
    status_counter="modelscaler_requests_total",
    status_label="code",
    status_class_regex="([1-5])[0-9][0-9]",
    status_counter_filter=None,
    request_size_histogram="modelscaler_request_size_bytes",
    response_size_histogram="modelscaler_response_size_bytes",
    prompt_tokens_counter=None,
    generation_tokens_counter=None,
    kv_cache_usage=(),
    presence=("modelscaler_request_duration_seconds_count", "modelscaler_requests_in_flight"),
)

VLLM = EngineMetrics(
    engine=Engine.VLLM,
    population=("vllm:num_requests_running", "vllm:num_requests_waiting"),
    in_service="vllm:num_requests_running",
    waiting="vllm:num_requests_waiting",
    latency_histogram="vllm:e2e_request_latency_seconds",
    first_byte_histogram="vllm:time_to_first_token_seconds",
    queue_time_histogram="vllm:request_queue_time_seconds",
    service_time_histogram="vllm:request_inference_time_seconds",
    # vLLM's OpenAI server counts HTTP requests with prometheus-fastapi-instrumentator,
    # whose `status` label already holds the class ("2xx").
    status_counter="http_requests_total",
    status_label="status",
    status_class_regex="([1-5])xx",
    status_counter_filter='handler!~"/metrics|/health|/ping|/version|/load|/server_info"',
    request_size_histogram=None,
    response_size_histogram=None,
    prompt_tokens_counter="vllm:prompt_tokens_total",
    generation_tokens_counter="vllm:generation_tokens_total",
    kv_cache_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    presence=("vllm:num_requests_running",),
)

SGLANG = EngineMetrics(
    engine=Engine.SGLANG,
    population=("sglang:num_running_reqs", "sglang:num_queue_reqs"),
    in_service="sglang:num_running_reqs",
    waiting="sglang:num_queue_reqs",
    latency_histogram="sglang:e2e_request_latency_seconds",
    first_byte_histogram="sglang:time_to_first_token_seconds",
    queue_time_histogram="sglang:queue_time_seconds",
    service_time_histogram=None,
    status_counter=None,  # SGLang exports no HTTP status codes
    status_label=None,
    status_class_regex=None,
    status_counter_filter=None,
    request_size_histogram=None,
    response_size_histogram=None,
    prompt_tokens_counter="sglang:prompt_tokens_total",
    generation_tokens_counter="sglang:generation_tokens_total",
    kv_cache_usage=("sglang:token_usage",),
    presence=("sglang:num_running_reqs",),
)

ENGINE_METRICS: dict[Engine, EngineMetrics] = {m.engine: m for m in (GENERIC, VLLM, SGLANG)}

DETECTION_ORDER: tuple[Engine, ...] = (Engine.VLLM, Engine.SGLANG, Engine.GENERIC)
"""When a deployment exports several families (an LLM server behind a generic proxy), the
engine's own series win: they see the engine's queue, which a proxy cannot."""
