"""The traffic simulator against the real local cluster and Prometheus.

A Deployment's pods (simulated by kwok, Ready after a 3-s start delay) are followed by the simulator's
watch; Prometheus scrapes the metrics it serves for them through the file_sd targets it writes, and the
same relabelling as a production PodMonitor gives the series their namespace/modeldeployment/pod labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hack.trafficsim import TrafficSimError, TrafficSimProcess
from tests.support.cluster import Cluster, Prometheus, wait_for

DEPLOYMENT = "demo"
DEPLOYMENT_LABEL = "serving.modelscaler.io/deployment"
IMAGE = "registry.invalid/model-server:1"  # kwok never pulls it
RATE = 8.0  # requests per second
COUNT_SERIES = {
    "generic": "modelscaler_request_duration_seconds_count",
    "vllm": "vllm:e2e_request_latency_seconds_count",
    "sglang": "sglang:e2e_request_latency_seconds_count",
}


def deployment_manifest(replicas: int) -> str:
    """A Deployment whose pods carry the ModelDeployment label and become Ready 3 s after they start."""
    labels = {"app": DEPLOYMENT, DEPLOYMENT_LABEL: DEPLOYMENT}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"modelscaler.io/start-delay": "3s"}},
                    "spec": {"containers": [{"name": "server", "image": IMAGE}]},
                },
            },
        }
    )


def ready_pod_names(cluster: Cluster, namespace: str) -> set[str]:
    """Names of the Ready pods of the demo deployment, per the API server."""
    listing = json.loads(
        cluster.kubectl(
            "-n", namespace, "get", "pods", "-l", f"{DEPLOYMENT_LABEL}={DEPLOYMENT}", "-o", "json"
        ).stdout
    )
    return {
        pod["metadata"]["name"]
        for pod in listing["items"]
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
        and not pod["metadata"].get("deletionTimestamp")
    }


def wait_for_pods(pods: Callable[[], set[str]], count: int, message: str) -> set[str]:
    """Wait until ``pods()`` holds exactly ``count`` names and return them."""

    def counted() -> tuple[set[str]] | None:
        names = pods()
        return (names,) if len(names) == count else None  # a 1-tuple is truthy even for no names

    return wait_for(counted, timeout=90, message=message)[0]


def scraped_pods(prometheus: Prometheus, namespace: str) -> set[str]:
    """Pods whose targets Prometheus currently scrapes successfully for the demo deployment."""
    result = prometheus.query(f'up{{namespace="{namespace}", modeldeployment="{DEPLOYMENT}"}} == 1')
    return {series["metric"]["pod"] for series in result}


@pytest.fixture
def trafficsim(traffic: TrafficSimProcess) -> TrafficSimProcess:
    """The shared `traffic` fixture (tests/conftest.py), under the name these tests read best with."""
    return traffic


def start_demo(
    cluster: Cluster, namespace: str, simulator: TrafficSimProcess, profile: dict[str, Any]
) -> set[str]:
    """Create the demo Deployment (2 pods), set its profile, and wait until the simulator serves both."""
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=deployment_manifest(2))
    simulator.set_profile(namespace, DEPLOYMENT, profile)
    pods = wait_for(
        lambda: (
            ready_pod_names(cluster, namespace) if len(ready_pod_names(cluster, namespace)) == 2 else None
        ),
        timeout=90,
        message="2 Ready pods",
    )
    wait_for(
        lambda: set((simulator.deployment_status(namespace, DEPLOYMENT) or {}).get("ready_pods", [])) == pods,
        timeout=30,
        message="the simulator to follow the Ready pods",
    )
    return pods


@pytest.mark.parametrize("engine", ["generic", "vllm"])
def test_prometheus_sees_the_served_rate_with_the_label_contract(
    cluster: Cluster, namespace: str, prometheus: Prometheus, trafficsim: TrafficSimProcess, engine: str
) -> None:
    profile = {"engine": engine, "rate": RATE, "service": {"seconds": 0.2}, "capacity": 4, "seed": 7}
    pods = start_demo(cluster, namespace, trafficsim, profile)
    count_series = COUNT_SERIES[engine]
    wait_for(lambda: scraped_pods(prometheus, namespace) == pods, timeout=60, message="both pods scraped")

    rate_query = f'sum by (namespace, modeldeployment) (rate({count_series}{{namespace="{namespace}"}}[20s]))'

    def settled_rate() -> list[dict[str, Any]] | None:
        result = prometheus.query(rate_query)
        # Settled once 20 s of samples of both pods are in the window: the rate is then within
        # Poisson noise (about 8 % for 160 requests) of the profile's.
        return result if result and abs(float(result[0]["value"][1]) - RATE) < 0.25 * RATE else None

    result = wait_for(settled_rate, timeout=120, interval=1.0, message=f"{rate_query} close to {RATE}")
    assert len(result) == 1
    assert result[0]["metric"] == {"namespace": namespace, "modeldeployment": DEPLOYMENT}

    # The counters Prometheus scraped never exceed what the simulator served, and lag it by at most what
    # arrives in two scrape intervals (plus Poisson slack).
    scraped_total = float(prometheus.query(f'sum({count_series}{{namespace="{namespace}"}})')[0]["value"][1])
    served = (trafficsim.deployment_status(namespace, DEPLOYMENT) or {})["served"]
    assert scraped_total <= served
    assert served - scraped_total <= RATE * 2 * prometheus.scrape_interval + 10

    per_pod = prometheus.query(f'{count_series}{{namespace="{namespace}"}}')
    assert {series["metric"]["pod"] for series in per_pod} == pods
    if engine == "vllm":
        assert {series["metric"]["model_name"] for series in per_pod} == {DEPLOYMENT}
        two_xx = prometheus.query(f'sum(http_requests_total{{namespace="{namespace}", status="2xx"}})')
        assert float(two_xx[0]["value"][1]) > 0


def test_pods_are_followed_as_the_deployment_scales(
    cluster: Cluster, namespace: str, prometheus: Prometheus, trafficsim: TrafficSimProcess
) -> None:
    pods = start_demo(cluster, namespace, trafficsim, {"rate": RATE, "service": {"seconds": 0.2}})
    wait_for(lambda: scraped_pods(prometheus, namespace) == pods, timeout=60, message="two pods scraped")

    cluster.kubectl("-n", namespace, "scale", "deployment", DEPLOYMENT, "--replicas=3")
    three = wait_for_pods(lambda: ready_pod_names(cluster, namespace), 3, "3 Ready pods")
    (newcomer,) = three - pods
    query = f'modelscaler_requests_total{{namespace="{namespace}", pod="{newcomer}", code="200"}} > 0'
    series = wait_for(lambda: prometheus.query(query), timeout=60, message="the third pod's series")
    assert series[0]["metric"]["modeldeployment"] == DEPLOYMENT

    cluster.kubectl("-n", namespace, "scale", "deployment", DEPLOYMENT, "--replicas=1")
    remaining = wait_for_pods(
        lambda: scraped_pods(prometheus, namespace), 1, "the removed pods' targets to go"
    )
    assert remaining <= three

    trafficsim.stop()
    assert list(Path(prometheus.state.file_sd_dir).glob(f"{trafficsim.instance}_*.json")) == []
    wait_for_pods(lambda: scraped_pods(prometheus, namespace), 0, "the targets to go with the simulator")


def test_overload_gives_5xx_and_queueing(
    cluster: Cluster, namespace: str, prometheus: Prometheus, trafficsim: TrafficSimProcess
) -> None:
    # Two pods of capacity 1 at 1 s per request against 6 requests/s: queues fill (limit 2), the rest is 503.
    profile = {"rate": 6, "service": {"seconds": 1.0}, "capacity": 1, "queue_limit": 2, "seed": 3}
    start_demo(cluster, namespace, trafficsim, profile)
    by_code = f'sum by (code) (modelscaler_requests_total{{namespace="{namespace}"}})'

    def both_codes() -> dict[str, float] | None:
        totals = {series["metric"]["code"]: float(series["value"][1]) for series in prometheus.query(by_code)}
        return totals if totals.get("503", 0) > 0 and totals.get("200", 0) > 0 else None

    totals = wait_for(both_codes, timeout=90, interval=1.0, message="both 200 and 503 answers")
    assert totals["503"] > 0
    deepest = f'max(max_over_time(modelscaler_requests_waiting{{namespace="{namespace}"}}[1m]))'
    # The queues fill up to their limit and never beyond it.
    wait_for(
        lambda: prometheus.query(deepest)[0]["value"][1] == "2",
        timeout=60,
        interval=1.0,
        message="a queue at its limit of 2",
    )


def test_control_api_refuses_invalid_profiles_and_serves_pod_pages(
    cluster: Cluster, namespace: str, trafficsim: TrafficSimProcess
) -> None:
    assert trafficsim.healthy()
    with pytest.raises(TrafficSimError, match="capacity"):
        trafficsim.set_profile(namespace, DEPLOYMENT, {"rate": 1, "capacity": 0})
    with pytest.raises(TrafficSimError, match="404"):
        trafficsim.delete_profile(namespace, DEPLOYMENT)
    pods = start_demo(cluster, namespace, trafficsim, {"engine": "sglang", "rate": 2, "model_name": "qwen"})
    page = trafficsim.metrics(namespace, sorted(pods)[0])
    assert 'sglang:num_running_reqs{model_name="qwen"}' in page
    trafficsim.delete_profile(namespace, DEPLOYMENT)
    idle = trafficsim.deployment_status(namespace, DEPLOYMENT)
    assert idle is not None
    assert idle["profile"] is None
    assert set(idle["ready_pods"]) == pods
