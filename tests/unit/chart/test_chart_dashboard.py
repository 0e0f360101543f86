"""The Grafana dashboard: generated, scoped by the variables, and reading only series that exist.

The integration test runs every query against the real Prometheus; these checks need no server.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from types import ModuleType

import pytest
from tests.unit.chart.chart_helpers import CHART, dashboard, panel_queries, substitute

from modelscaler.metrics import contract
from modelscaler.runtime.telemetry import Telemetry

BOARD = dashboard()
QUERIES = panel_queries(BOARD)
# Series other exporters provide: cAdvisor (kubelet), NVIDIA's DCGM exporter, Prometheus' `up`.
EXTERNAL = {
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_FB_USED",
    "up",
}
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\}|\[)")


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboard_build", CHART / "dashboards" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def histogram_names(name: str) -> set[str]:
    return {name, f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_total"}


def operator_series() -> set[str]:
    """The series the operator's own /metrics exports."""
    return {name for family in Telemetry().registry.collect() for name in histogram_names(family.name)}


def contract_series() -> set[str]:
    """Every series docs/metrics.md's contract names (model servers), plus the operator's own."""
    names = {contract.ASYNC_QUEUE_GAUGE}
    for engine in contract.ENGINE_METRICS.values():
        for field in dataclasses.fields(engine):
            value = getattr(engine, field.name)
            for name in value if isinstance(value, tuple) else (value,):
                if isinstance(name, str) and re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
                    names |= histogram_names(name)
    return names | operator_series()


def test_the_json_is_what_build_py_generates() -> None:
    builder = load_builder()

    assert (CHART / "dashboards" / "modelscaler.json").read_text(encoding="utf-8") == builder.render()
    assert builder.main(["--check"]) == 0


@pytest.mark.parametrize(("title", "ref", "expr"), QUERIES, ids=[f"{t} {r}" for t, r, _ in QUERIES])
def test_each_query_reads_only_known_series(title: str, ref: str, expr: str) -> None:
    used = {match.group(1) for match in SELECTOR.finditer(expr)} - {"by", "on", "group_left", "without"}

    assert used, f"{title} {ref} reads no series"
    assert used <= contract_series() | EXTERNAL, used - contract_series() - EXTERNAL


@pytest.mark.parametrize(("title", "ref", "expr"), QUERIES, ids=[f"{t} {r}" for t, r, _ in QUERIES])
def test_each_deployment_series_is_scoped_by_the_variables(title: str, ref: str, expr: str) -> None:
    per_deployment_operator_series = operator_series()
    for match in SELECTOR.finditer(expr):
        name, matchers = match.group(1), match.group(2)
        if name.startswith("modelscaler_operator_"):
            continue  # the operator's own health, not per deployment
        assert 'namespace=~"$namespace"' in matchers, f"{title} {ref}: {name} not scoped to $namespace"
        if name in EXTERNAL - {"up"}:
            continue  # cAdvisor's and DCGM's series reach a deployment through its pods' `up`
        assert 'modeldeployment=~"$modeldeployment"' in matchers, f"{title} {ref}: {name}"
        if name not in per_deployment_operator_series:
            assert 'environment=~"$environment"' in matchers, f"{title} {ref}: {name} ignores $environment"


def test_the_panels_cover_what_engineers_look_at() -> None:
    titles = {panel["title"] for panel in BOARD["panels"] if panel["type"] != "row"}

    assert {
        "Inference volume by status class",
        "Response time",
        "Time to first byte / token",
        "Request and response size",
        "Replicas: active vs starting",
        "Restarts",
        "Concurrent requests",
        "CPU",
        "Memory",
        "GPU utilization",
        "GPU memory used",
        "Async queue size",
        "Time in queue",
        "Tokens per second",
        "KV-cache usage",
        "Requests running / waiting",
    } <= titles
    response = next(p for p in BOARD["panels"] if p["title"] == "Response time")
    assert [t["legendFormat"] for t in response["targets"]] == [
        "{{modeldeployment}} p50",
        "{{modeldeployment}} p90",
        "{{modeldeployment}} p95",
        "{{modeldeployment}} p99",
    ]


def test_variables_scope_by_environment_namespace_and_deployment() -> None:
    variables = {v["name"]: v for v in BOARD["templating"]["list"]}

    assert list(variables) == ["datasource", "namespace", "environment", "modeldeployment"]
    assert variables["environment"]["allValue"] == ".*", "series without the label still match All"
    assert "allValue" not in variables["modeldeployment"], "All = the deployments of the chosen environment"
    assert '$environment"' in variables["modeldeployment"]["query"]
    assert variables["modeldeployment"]["multi"] is True


def test_scale_events_are_annotated_from_the_desired_replicas() -> None:
    (scale,) = [a for a in BOARD["annotations"]["list"] if a["name"] == "Scale events"]

    assert (
        'modelscaler_replicas{namespace=~"$namespace", modeldeployment=~"$modeldeployment", kind="desired"}'
        in (scale["expr"])
    )
    assert "changes(" in scale["expr"]


def test_panels_have_unique_ids_fit_the_grid_and_use_the_datasource_variable() -> None:
    panels = BOARD["panels"]

    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["description"]


def test_substitution_fills_every_variable() -> None:
    variables = {"namespace": "a", "modeldeployment": "b", "environment": ".*"}

    for _, _, expr in QUERIES:
        assert "$" not in substitute(expr, variables).replace("${1}", "")
