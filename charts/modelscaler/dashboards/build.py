"""Writes modelscaler.json, the Grafana dashboard the chart ships, from the panel list below.

Run from the repository root: `python charts/modelscaler/dashboards/build.py` (add `--check` to
only compare). The JSON is the artefact (Grafana and the chart read it; tests extract each
panel's PromQL from it); this script keeps its queries uniform: every model series is scoped by
the same `namespace`, `modeldeployment` and `environment` matchers, and where engines differ a
query asks vLLM first, then SGLang, then the generic contract (docs/metrics.md), the same order
the operator uses when a pod exports several families.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().with_name("modelscaler.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

MODEL = 'namespace=~"$namespace", modeldeployment=~"$modeldeployment", environment=~"$environment"'
"""Matchers of every model-server series (the PodMonitor adds `environment` from the pod label)."""

OPERATOR = 'namespace=~"$namespace", modeldeployment=~"$modeldeployment"'
"""Matchers of the operator's per-deployment series (modelscaler_replicas, _pod_readiness, ...)."""

BY = "namespace, modeldeployment"
RATE = "$__rate_interval"
VLLM_API_HANDLERS = 'handler!~"/metrics|/health|/ping|/version|/load|/server_info"'
DIAGNOSES = (
    "Thrashing|CapacityExhausted|ColdStartDelay|ConcurrencyTargetTooHigh|ScaleDownTooFast|"
    "FrequentRestarts|AsyncBackpressure|Overprovisioned|KVCacheSaturated"
)
PERCENTILES = (0.5, 0.9, 0.95, 0.99)
TRUE_DIAGNOSES = f'modelscaler_condition{{{OPERATOR}, status="True", type=~"{DIAGNOSES}"}}'
SCALING_INACTIVE = f'modelscaler_condition{{{OPERATOR}, status="False", type="ScalingActive"}}'
CONTAINERS = 'namespace=~"$namespace", container!="", container!="POD"'
"""cAdvisor's per-container series (not the pod's sandbox or cgroup totals)."""
# Every model pod scraped through the label contract has an `up` series with namespace, pod and
# modeldeployment: it maps cAdvisor's and DCGM's per-pod series to their deployment.
POD_TO_DEPLOYMENT = f"max by (namespace, pod, modeldeployment) (up{{{MODEL}}})"
ENGINE_PRESENCE = (
    "vllm:num_requests_running|sglang:num_running_reqs|modelscaler_request_duration_seconds_count"
)


def first_of(*queries: str) -> str:
    """Each query's series unless an earlier query already has that deployment (PromQL `or`)."""
    return " or ".join(f"({q})" if " or " in q else q for q in queries)


def quantile_of(histograms: Sequence[str], q: float) -> str:
    """The q-quantile per deployment of the first engine's histogram that the deployment exports."""
    return first_of(
        *(
            f"histogram_quantile({q}, sum by ({BY}, le) (rate({h}_bucket{{{MODEL}}}[{RATE}])))"
            for h in histograms
        )
    )


def percentile_queries(histograms: Sequence[str], quantiles: Sequence[float]) -> tuple[Query, ...]:
    """One target per quantile, legend `<deployment> p95`."""
    return tuple(
        Query(quantile_of(histograms, q), f"{{{{modeldeployment}}}} p{round(q * 100)}") for q in quantiles
    )


def mean_of(histogram: str) -> str:
    """The mean observation per deployment of a histogram (sum rate over count rate)."""
    return (
        f"sum by ({BY}) (rate({histogram}_sum{{{MODEL}}}[{RATE}]))"
        f" / sum by ({BY}) (rate({histogram}_count{{{MODEL}}}[{RATE}]))"
    )


def gauge_sum(*gauges: str) -> str:
    """Sum over pods, per deployment, of the first engine's gauge."""
    return first_of(*(f"sum by ({BY}) ({g}{{{MODEL}}})" for g in gauges))


def per_pod_resource(expression: str, aggregate: str = "sum") -> str:
    """A per-pod cAdvisor or DCGM expression mapped to deployments by the pods' `up` series."""
    joined = f"{expression} * on (namespace, pod) group_left (modeldeployment) {POD_TO_DEPLOYMENT}"
    return f"{aggregate} by ({BY}) ({joined})"


@dataclass(frozen=True)
class Query:
    """One panel target: its PromQL and the legend."""

    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    """A panel: title, what it shows (description), unit and targets."""

    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"
    width: int = 12
    stack: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """A collapsible row of panels."""

    title: str
    panels: tuple[Panel, ...]


E2E = (
    "vllm:e2e_request_latency_seconds",
    "sglang:e2e_request_latency_seconds",
    "modelscaler_request_duration_seconds",
)
FIRST = (
    "vllm:time_to_first_token_seconds",
    "sglang:time_to_first_token_seconds",
    "modelscaler_time_to_first_byte_seconds",
)
QUEUE = ("vllm:request_queue_time_seconds", "sglang:queue_time_seconds", "modelscaler_request_queue_seconds")

STATUS_CLASS = first_of(
    f"sum by ({BY}, status_class) (label_replace("
    f"rate(http_requests_total{{{MODEL}, {VLLM_API_HANDLERS}}}[{RATE}]),"
    ' "status_class", "${1}xx", "status", "([1-5])xx"))',
    f"sum by ({BY}, status_class) (label_replace(rate(modelscaler_requests_total{{{MODEL}}}[{RATE}]),"
    ' "status_class", "${1}xx", "code", "([1-5])[0-9][0-9]"))',
)
ERRORS = first_of(
    f'sum by ({BY}) (rate(http_requests_total{{{MODEL}, {VLLM_API_HANDLERS}, status="5xx"}}[{RATE}]))',
    f'sum by ({BY}) (rate(modelscaler_requests_total{{{MODEL}, code=~"5.."}}[{RATE}]))',
)
ANSWERED = first_of(
    f"sum by ({BY}) (rate(http_requests_total{{{MODEL}, {VLLM_API_HANDLERS}}}[{RATE}]))",
    f"sum by ({BY}) (rate(modelscaler_requests_total{{{MODEL}}}[{RATE}]))",
)
IN_FLIGHT = first_of(
    f"sum by ({BY}) (vllm:num_requests_running{{{MODEL}}})"
    f" + sum by ({BY}) (vllm:num_requests_waiting{{{MODEL}}})",
    f"sum by ({BY}) (sglang:num_running_reqs{{{MODEL}}}) + sum by ({BY}) (sglang:num_queue_reqs{{{MODEL}}})",
    f"sum by ({BY}) (modelscaler_requests_in_flight{{{MODEL}}})",
)
COMPLETED = first_of(*(f"sum by ({BY}) (rate({h}_count{{{MODEL}}}[{RATE}]))" for h in E2E))
LITTLE = first_of(*(f"sum by ({BY}) (rate({h}_sum{{{MODEL}}}[{RATE}]))" for h in E2E))
READY = f'sum by ({BY}) (modelscaler_replicas{{{OPERATOR}, kind="ready"}})'

ROWS: tuple[Row, ...] = (
    Row(
        "Overview",
        (
            Panel(
                "Ready replicas",
                "Replicas that serve (Ready pods) over the selected deployments.",
                "none",
                (Query(f"sum({READY})", "ready"),),
                kind="stat",
                width=4,
            ),
            Panel(
                "Requests per second",
                "Completed requests per second over the selected deployments, every status.",
                "reqps",
                (
                    Query(
                        f"sum({COMPLETED})",
                        "req/s",
                    ),
                ),
                kind="stat",
                width=5,
            ),
            Panel(
                "5xx ratio",
                "Share of requests answered with a 5xx status.",
                "percentunit",
                (Query(f"(sum({ERRORS}) or vector(0)) / sum({ANSWERED})", "5xx"),),
                kind="stat",
                width=5,
            ),
            Panel(
                "p95 response time",
                "95th percentile of the end-to-end response time, worst selected deployment.",
                "s",
                (Query(f"max({quantile_of(E2E, 0.95)})", "p95"),),
                kind="stat",
                width=5,
            ),
            Panel(
                "Diagnoses",
                "Diagnosis conditions True now (kubectl describe md shows each problem and its fix).",
                "none",
                (
                    Query(
                        f"count({TRUE_DIAGNOSES} == 1) or vector(0)",
                        "True",
                    ),
                ),
                kind="stat",
                width=5,
            ),
        ),
    ),
    Row(
        "Traffic",
        (
            Panel(
                "Inference volume by status class",
                "Requests per second by HTTP status class (vLLM: its API handlers; SGLang exports none).",
                "reqps",
                (Query(STATUS_CLASS, "{{modeldeployment}} {{status_class}}"),),
                stack=True,
            ),
            Panel(
                "Concurrent requests",
                "Requests in the server (in service + waiting): the gauge, and the time average by "
                "Little's law "
                "(rate of the latency sum), which is what the operator scales on for generic servers.",
                "short",
                (
                    Query(IN_FLIGHT, "{{modeldeployment}} in flight"),
                    Query(LITTLE, "{{modeldeployment}} time-averaged"),
                    Query(f"({LITTLE}) / on ({BY}) ({READY} > 0)", "{{modeldeployment}} per ready replica"),
                ),
            ),
            Panel(
                "Async queue size",
                "Requests waiting in an async queue in front of the servers (modelscaler_async_queue_size).",
                "short",
                (Query(gauge_sum("modelscaler_async_queue_size"), "{{modeldeployment}}"),),
            ),
            Panel(
                "Time in queue",
                "How long requests waited before service started (inside the server or its queue).",
                "s",
                percentile_queries(QUEUE, (0.5, 0.95)),
            ),
        ),
    ),
    Row(
        "Latency",
        (
            Panel(
                "Response time",
                "End-to-end response time percentiles.",
                "s",
                percentile_queries(E2E, PERCENTILES),
            ),
            Panel(
                "Time to first byte / token",
                "Time to the first response byte (generic) or the first generated token (vLLM, SGLang).",
                "s",
                percentile_queries(FIRST, PERCENTILES),
            ),
            Panel(
                "Request and response size",
                "Mean body sizes of the generic contract's size histograms.",
                "bytes",
                (
                    Query(mean_of("modelscaler_request_size_bytes"), "{{modeldeployment}} request"),
                    Query(mean_of("modelscaler_response_size_bytes"), "{{modeldeployment}} response"),
                ),
            ),
        ),
    ),
    Row(
        "Replicas",
        (
            Panel(
                "Replicas: active vs starting",
                "Pods that serve (ready), pods still loading (starting), and the desired count.",
                "none",
                (
                    Query(
                        f"sum by ({BY}, state) (modelscaler_pod_readiness{{{OPERATOR}}})",
                        "{{modeldeployment}} {{state}}",
                    ),
                    Query(
                        f'sum by ({BY}) (modelscaler_replicas{{{OPERATOR}, kind="desired"}})',
                        "{{modeldeployment}} desired",
                    ),
                ),
            ),
            Panel(
                "Restarts",
                "Container restarts on the current pods, by termination reason (OOMKilled, Error, ...).",
                "none",
                (
                    Query(
                        f"sum by ({BY}, reason) (modelscaler_pod_restarts{{{OPERATOR}}})",
                        "{{modeldeployment}} {{reason}}",
                    ),
                ),
            ),
            Panel(
                "Diagnosis conditions",
                "Conditions that are True (a problem found; kubectl describe md shows the recommended fix).",
                "none",
                (
                    Query(
                        f"max by ({BY}, type) ({TRUE_DIAGNOSES}) == 1",
                        "{{modeldeployment}} {{type}}",
                    ),
                    Query(
                        f"max by ({BY}, type) ({SCALING_INACTIVE}) == 1",
                        "{{modeldeployment}} not scaling (no usable metrics)",
                    ),
                ),
                width=24,
            ),
        ),
    ),
    Row(
        "Resources",
        (
            Panel(
                "CPU",
                "CPU cores used by the model containers (cAdvisor's container_cpu_usage_seconds_total).",
                "short",
                (
                    Query(
                        per_pod_resource(f"rate(container_cpu_usage_seconds_total{{{CONTAINERS}}}[{RATE}])"),
                        "{{modeldeployment}}",
                    ),
                ),
            ),
            Panel(
                "Memory",
                "Working-set memory of the model containers (container_memory_working_set_bytes).",
                "bytes",
                (
                    Query(
                        per_pod_resource(f"container_memory_working_set_bytes{{{CONTAINERS}}}"),
                        "{{modeldeployment}}",
                    ),
                ),
            ),
            Panel(
                "GPU utilization",
                "Mean GPU utilization of the deployment's GPUs (NVIDIA DCGM exporter, DCGM_FI_DEV_GPU_UTIL).",
                "percent",
                (
                    Query(
                        per_pod_resource('DCGM_FI_DEV_GPU_UTIL{namespace=~"$namespace"}', "avg"),
                        "{{modeldeployment}}",
                    ),
                ),
            ),
            Panel(
                "GPU memory used",
                "GPU framebuffer memory in use (DCGM_FI_DEV_FB_USED, MiB, shown in bytes).",
                "bytes",
                (
                    Query(
                        per_pod_resource('DCGM_FI_DEV_FB_USED{namespace=~"$namespace"} * 1048576'),
                        "{{modeldeployment}}",
                    ),
                ),
            ),
        ),
    ),
    Row(
        "Engine (vLLM / SGLang)",
        (
            Panel(
                "Tokens per second",
                "Prompt tokens read and tokens generated per second.",
                "short",
                (
                    Query(
                        first_of(
                            f"sum by ({BY}) (rate(vllm:prompt_tokens_total{{{MODEL}}}[{RATE}]))",
                            f"sum by ({BY}) (rate(sglang:prompt_tokens_total{{{MODEL}}}[{RATE}]))",
                        ),
                        "{{modeldeployment}} prompt",
                    ),
                    Query(
                        first_of(
                            f"sum by ({BY}) (rate(vllm:generation_tokens_total{{{MODEL}}}[{RATE}]))",
                            f"sum by ({BY}) (rate(sglang:generation_tokens_total{{{MODEL}}}[{RATE}]))",
                        ),
                        "{{modeldeployment}} generated",
                    ),
                ),
            ),
            Panel(
                "KV-cache usage",
                "Mean KV-cache usage over the pods (vLLM kv_cache_usage_perc; SGLang token_usage).",
                "percentunit",
                (
                    Query(
                        first_of(
                            f"avg by ({BY}) (vllm:kv_cache_usage_perc{{{MODEL}}})",
                            f"avg by ({BY}) (vllm:gpu_cache_usage_perc{{{MODEL}}})",
                            f"avg by ({BY}) (sglang:token_usage{{{MODEL}}})",
                        ),
                        "{{modeldeployment}}",
                    ),
                ),
                extra={"max": 1},
            ),
            Panel(
                "Requests running / waiting",
                "Requests running and requests waiting for a slot (a growing wait means too few replicas).",
                "short",
                (
                    Query(
                        gauge_sum("vllm:num_requests_running", "sglang:num_running_reqs"),
                        "{{modeldeployment}} running",
                    ),
                    Query(
                        gauge_sum(
                            "vllm:num_requests_waiting",
                            "sglang:num_queue_reqs",
                            "modelscaler_requests_waiting",
                        ),
                        "{{modeldeployment}} waiting",
                    ),
                ),
                width=24,
            ),
        ),
    ),
    Row(
        "Operator",
        (
            Panel(
                "Control-loop tick duration",
                "How long one tick takes (all deployments): p95, and the Prometheus batch inside it.",
                "s",
                (
                    Query(
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(modelscaler_operator_tick_duration_seconds_bucket[{RATE}])))",
                        "tick p95",
                    ),
                    Query(
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(modelscaler_operator_prometheus_query_duration_seconds_bucket[{RATE}])))",
                        "Prometheus batch p95",
                    ),
                ),
            ),
            Panel(
                "Decisions and errors",
                "Scaling decisions applied per second by direction, and failed Prometheus queries.",
                "short",
                (
                    Query(
                        f"sum by (direction) (rate(modelscaler_operator_decisions_total[{RATE}]))",
                        "{{direction}}",
                    ),
                    Query(
                        f"sum(rate(modelscaler_operator_prometheus_query_errors_total[{RATE}]))",
                        "query errors",
                    ),
                ),
            ),
        ),
    ),
)


def variable(name: str, label: str, query: str, *, all_value: str | None) -> dict[str, Any]:
    """A multi-value query variable with an All option."""
    out: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }
    if all_value is not None:
        out["allValue"] = all_value
    return out


def templating() -> dict[str, Any]:
    """Datasource, namespace, environment and deployment variables.

    `environment` comes from the label the chart's PodMonitor copies from the pod label
    serving.modelscaler.io/environment; its All is `.*`, so series without it still match. The
    deployment list follows the environment; its All is the list itself (no allValue), so an
    environment scopes the operator's series too, which carry no environment label.
    """
    models = f'{{__name__=~"{ENGINE_PRESENCE}", namespace=~"$namespace", environment=~"$environment"}}'
    return {
        "list": [
            {
                "name": "datasource",
                "label": "Prometheus",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "options": [],
                "refresh": 1,
            },
            variable(
                "namespace",
                "Namespace",
                f'label_values({{__name__=~"{ENGINE_PRESENCE}|modelscaler_replicas"}}, namespace)',
                all_value=None,
            ),
            variable(
                "environment",
                "Environment",
                f'label_values({{__name__=~"{ENGINE_PRESENCE}", environment!=""}}, environment)',
                all_value=".*",
            ),
            variable(
                "modeldeployment", "Deployment", f"label_values({models}, modeldeployment)", all_value=None
            ),
        ]
    }


def scale_annotations() -> dict[str, Any]:
    """Scale events: a mark wherever a deployment's desired replicas changed."""
    desired = f'modelscaler_replicas{{{OPERATOR}, kind="desired"}}'
    return {
        "list": [
            {
                "builtIn": 1,
                "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True,
                "hide": True,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            },
            {
                "name": "Scale events",
                "datasource": DATASOURCE,
                "enable": True,
                "iconColor": "orange",
                "expr": f"{desired} and on ({BY}) (changes({desired}[2m]) > 0)",
                "step": "1m",
                "titleFormat": "Scaled {{namespace}}/{{modeldeployment}}",
                "tagKeys": "namespace,modeldeployment",
                "textFormat": "desired replicas changed (see kubectl describe md {{modeldeployment}})",
                "useValueForTime": False,
            },
        ]
    }


def render_panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    """One Grafana panel with its targets (refIds A, B, ...)."""
    defaults: dict[str, Any] = {"unit": panel.unit, **panel.extra}
    options: dict[str, Any]
    if panel.kind == "stat":
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
        }
        height = 4
    else:
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if panel.stack else 5,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "showPoints": "never",
        }
        options = {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["mean", "max", "lastNotNull"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
        height = 8
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
                "range": True,
            }
            for index, query in enumerate(panel.queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    """The whole dashboard as Grafana's JSON model."""
    panels: list[dict[str, Any]] = []
    panel_id, y = 1, 0
    for row in ROWS:
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        panel_id, y, x, row_height = panel_id + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, row_height = 0, y + row_height, 0
            rendered = render_panel(panel, panel_id, x, y)
            panels.append(rendered)
            panel_id, x = panel_id + 1, x + panel.width
            row_height = max(row_height, rendered["gridPos"]["h"])
        y += row_height
    return {
        "uid": "modelscaler",
        "title": "modelscaler: model deployments",
        "description": "Traffic, latency, replicas, resources and engine metrics of ModelDeployments.",
        "tags": ["modelscaler", "inference", "autoscaling"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-3h", "to": "now"},
        "links": [],
        "annotations": scale_annotations(),
        "templating": templating(),
        "panels": panels,
    }


def render() -> str:
    """The dashboard's JSON text, as committed."""
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with --check, compare) modelscaler.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when modelscaler.json is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.name} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
