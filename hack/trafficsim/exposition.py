"""Write one pod's metrics in the Prometheus text exposition format, with the names of its engine.

Metric names follow ``docs/metrics.md`` (a unit test checks them against ``modelscaler.metrics.contract``):
- generic: ``modelscaler_*`` (in flight, waiting, duration / queue / first-byte / size histograms, requests
  by code);
- vLLM (V1 engine names, vLLM >= 0.10): ``vllm:*`` with ``model_name``, plus the API server's
  ``http_requests_total{status="2xx"|"5xx"}``;
- SGLang: ``sglang:*`` with ``model_name``.
In async mode every engine also exports ``modelscaler_async_queue_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .model import Histogram, PodSnapshot

Labels = Mapping[str, str]
CHAT_HANDLER = "/v1/chat/completions"


def escape_label_value(value: str) -> str:
    """Escape a label value for the text format: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_text(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value))


class _Writer:
    """Accumulates families of samples as text lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: Labels, value: float) -> None:
        self.lines.append(f"{name}{_label_text(labels)} {_number(value)}")

    def scalar(self, name: str, kind: str, help_text: str, labels: Labels, value: float) -> None:
        self.family(name, kind, help_text)
        self.sample(name, labels, value)

    def histogram(self, name: str, help_text: str, labels: Labels, histogram: Histogram) -> None:
        self.family(name, "histogram", help_text)
        for bound, count in zip(histogram.bounds, histogram.cumulative(), strict=True):
            self.sample(f"{name}_bucket", {**labels, "le": _number(bound)}, count)
        self.sample(f"{name}_bucket", {**labels, "le": "+Inf"}, histogram.count)
        self.sample(f"{name}_sum", labels, histogram.sum)
        self.sample(f"{name}_count", labels, histogram.count)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _generic(out: _Writer, pod: PodSnapshot) -> None:
    counters = pod.counters
    out.scalar(
        "modelscaler_requests_in_flight",
        "gauge",
        "Requests in service or waiting at this server.",
        {},
        pod.running + pod.waiting,
    )
    out.scalar(
        "modelscaler_requests_waiting", "gauge", "Requests waiting for a serving slot.", {}, pod.waiting
    )
    out.histogram(
        "modelscaler_request_duration_seconds",
        "End-to-end request duration, queueing included.",
        {},
        counters.duration,
    )
    out.histogram(
        "modelscaler_request_queue_seconds",
        "Time a request waited before service started.",
        {},
        counters.queue_time,
    )
    out.histogram(
        "modelscaler_time_to_first_byte_seconds",
        "Time from arrival to the first response byte.",
        {},
        counters.first_byte,
    )
    out.histogram("modelscaler_request_size_bytes", "Request body size.", {}, counters.request_size)
    out.histogram("modelscaler_response_size_bytes", "Response body size.", {}, counters.response_size)
    out.family("modelscaler_requests_total", "counter", "Requests answered, by HTTP status code.")
    for code, count in sorted(counters.responses.items()):
        out.sample("modelscaler_requests_total", {"code": code}, count)


def _vllm(out: _Writer, pod: PodSnapshot) -> None:
    counters, model = pod.counters, {"model_name": pod.model_name}
    out.scalar(
        "vllm:num_requests_running",
        "gauge",
        "Number of requests in model execution batches.",
        model,
        pod.running,
    )
    out.scalar(
        "vllm:num_requests_waiting",
        "gauge",
        "Number of requests waiting to be processed.",
        model,
        pod.waiting,
    )
    out.scalar(
        "vllm:kv_cache_usage_perc",
        "gauge",
        "KV-cache usage. 1 means 100 percent usage.",
        model,
        pod.kv_cache_usage,
    )
    out.histogram(
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        model,
        counters.duration,
    )
    out.histogram(
        "vllm:request_queue_time_seconds",
        "Histogram of time spent in WAITING phase for request.",
        model,
        counters.queue_time,
    )
    out.histogram(
        "vllm:request_inference_time_seconds",
        "Histogram of time spent in RUNNING phase for request.",
        model,
        counters.service_time,
    )
    out.histogram(
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        model,
        counters.first_byte,
    )
    out.scalar(
        "vllm:request_success_total",
        "counter",
        "Count of successfully processed requests.",
        {**model, "finished_reason": "stop"},
        counters.responses.get("200", 0),
    )
    out.scalar(
        "vllm:prompt_tokens_total",
        "counter",
        "Number of prefill tokens processed.",
        model,
        counters.prompt_tokens,
    )
    out.scalar(
        "vllm:generation_tokens_total",
        "counter",
        "Number of generation tokens processed.",
        model,
        counters.output_tokens,
    )
    out.family("http_requests_total", "counter", "Total number of requests by method, status and handler.")
    for status_class, count in sorted(_status_classes(counters.responses).items()):
        out.sample(
            "http_requests_total", {"handler": CHAT_HANDLER, "method": "POST", "status": status_class}, count
        )


def _sglang(out: _Writer, pod: PodSnapshot) -> None:
    counters, model = pod.counters, {"model_name": pod.model_name}
    out.scalar("sglang:num_running_reqs", "gauge", "The number of running requests.", model, pod.running)
    out.scalar(
        "sglang:num_queue_reqs", "gauge", "The number of requests in the waiting queue.", model, pod.waiting
    )
    out.scalar("sglang:token_usage", "gauge", "The token usage.", model, pod.kv_cache_usage)
    out.histogram(
        "sglang:e2e_request_latency_seconds",
        "Histogram of End-to-end request latency in seconds.",
        model,
        counters.duration,
    )
    out.histogram(
        "sglang:queue_time_seconds",
        "Histogram of queueing time in seconds.",
        model,
        counters.queue_time,
    )
    out.histogram(
        "sglang:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        model,
        counters.first_byte,
    )
    out.scalar(
        "sglang:prompt_tokens_total",
        "counter",
        "Number of prefill tokens processed.",
        model,
        counters.prompt_tokens,
    )
    out.scalar(
        "sglang:generation_tokens_total",
        "counter",
        "Number of generation tokens processed.",
        model,
        counters.output_tokens,
    )
    out.scalar(
        "sglang:num_requests_total",
        "counter",
        "Number of requests processed.",
        model,
        counters.responses.get("200", 0),
    )
    out.scalar(
        "sglang:num_aborted_requests_total",
        "counter",
        "Number of requests aborted.",
        model,
        sum(count for code, count in counters.responses.items() if code != "200"),
    )


def _status_classes(responses: Mapping[str, int]) -> dict[str, int]:
    classes: dict[str, int] = {"2xx": 0, "5xx": 0}
    for code, count in responses.items():
        key = f"{code[0]}xx"
        classes[key] = classes.get(key, 0) + count
    return classes


ENGINE_WRITERS: dict[str, Callable[[_Writer, PodSnapshot], None]] = {
    "generic": _generic,
    "vllm": _vllm,
    "sglang": _sglang,
}


def render_pod_metrics(pod: PodSnapshot) -> str:
    """The pod's /metrics page for its engine (text format 0.0.4)."""
    out = _Writer()
    ENGINE_WRITERS[pod.engine](out, pod)
    if pod.async_mode:
        out.scalar(
            "modelscaler_async_queue_size",
            "gauge",
            "Requests in the async queue (this pod's share; the sum over pods is the queue).",
            {},
            pod.async_queue,
        )
    return out.text()
