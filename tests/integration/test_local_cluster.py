"""The local cluster is made of real parts: a kube-apiserver with scheduler and controllers, kwok pods
that follow modelscaler's Stages (cold start, crashes), and a Prometheus that scrapes what it is told."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.support.cluster import Cluster, Prometheus, PrometheusQueryError, unique_namespace_name, wait_for

START_DELAY = "modelscaler.io/start-delay"
FAIL_REASON = "modelscaler.io/fail-reason"
FAIL_DURING = "modelscaler.io/fail-during"
FAIL_AFTER = "modelscaler.io/fail-after"
FAIL_TIMES = "modelscaler.io/fail-times"
IMAGE = "registry.invalid/model-server:1"  # kwok never pulls it


def deployment_manifest(name: str, replicas: int, annotations: dict[str, str]) -> str:
    """A Deployment whose pods carry the given annotations."""
    labels = {"app": name}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels, "annotations": annotations},
                    "spec": {"containers": [{"name": "server", "image": IMAGE}]},
                },
            },
        }
    )


def pod_manifest(name: str, annotations: dict[str, str], limits: dict[str, str] | None = None) -> str:
    """A bare pod with one container, the given annotations and resource limits."""
    container: dict[str, Any] = {"name": "server", "image": IMAGE}
    if limits:
        container["resources"] = {"limits": limits, "requests": limits}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"containers": [container]},
        }
    )


def get_pod(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    """The pod as the API server returns it."""
    pod: dict[str, Any] = json.loads(
        cluster.kubectl("-n", namespace, "get", "pod", name, "-o", "json").stdout
    )
    return pod


def pod_once(
    cluster: Cluster, namespace: str, name: str, check: Callable[[dict[str, Any]], bool]
) -> Callable[[], dict[str, Any] | None]:
    """A wait_for predicate: the pod once `check(pod)` holds, None before."""

    def probe() -> dict[str, Any] | None:
        pod = get_pod(cluster, namespace, name)
        return pod if check(pod) else None

    return probe


def condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    """The pod's condition of that type, or an empty dict."""
    for entry in pod.get("status", {}).get("conditions", []):
        if entry["type"] == kind:
            return dict(entry)
    return {}


def is_ready(pod: dict[str, Any]) -> bool:
    """True when the pod's Ready condition is True."""
    return condition(pod, "Ready").get("status") == "True"


def container_status(pod: dict[str, Any]) -> dict[str, Any]:
    """The status of the pod's only container (empty before kwok started it)."""
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def parse_time(stamp: str) -> datetime:
    """An RFC 3339 timestamp from the API."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def apply_and_watch_pods(
    cluster: Cluster,
    namespace: str,
    manifest: str,
    done: Callable[[dict[str, dict[str, Any]]], bool],
    timeout: float = 90.0,
) -> list[dict[str, Any]]:
    """Apply `manifest`, then return every version of the namespace's pods until `done(latest by name)`.

    The watch starts from the resource version read before the apply, so no version is missed
    however long the client takes to connect.
    """
    from kubernetes import client, watch

    listing = cluster.kubectl("-n", namespace, "get", "pods", "-o", "jsonpath={.metadata.resourceVersion}")
    resource_version = listing.stdout.strip()
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=manifest)
    history: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with cluster.api_client() as api:
        core = client.CoreV1Api(api)
        while time.monotonic() < deadline:
            stream = watch.Watch()
            remaining = max(1, int(deadline - time.monotonic()))
            events = stream.stream(
                core.list_namespaced_pod,
                namespace,
                resource_version=resource_version,
                timeout_seconds=remaining,
            )
            for event in events:
                pod = api.sanitize_for_serialization(event["object"])
                resource_version = pod["metadata"]["resourceVersion"]
                history.append(pod)
                latest[pod["metadata"]["name"]] = pod
                if done(latest):
                    stream.stop()
                    return history
    raise TimeoutError(f"pods in {namespace} did not reach the expected state in {timeout}s: {latest}")


def test_deployment_pods_become_ready_only_after_their_start_delay(cluster: Cluster, namespace: str) -> None:
    history = apply_and_watch_pods(
        cluster,
        namespace,
        deployment_manifest("slow", 3, {START_DELAY: "5s"}),
        lambda pods: len(pods) == 3 and all(is_ready(p) for p in pods.values()),
    )

    names = {pod["metadata"]["name"] for pod in history}
    assert len(names) == 3
    for name in names:
        versions = [pod for pod in history if pod["metadata"]["name"] == name]
        running_not_ready = [p for p in versions if container_status(p).get("state", {}).get("running")]
        assert running_not_ready, f"{name} was never seen running"
        assert not is_ready(running_not_ready[0]), f"{name} was Ready as soon as it started"
        final = versions[-1]
        started = parse_time(container_status(final)["state"]["running"]["startedAt"])
        ready_at = parse_time(condition(final, "Ready")["lastTransitionTime"])
        # Timestamps have whole seconds: a 5 s delay shows as at least 4 s.
        assert (ready_at - started).total_seconds() >= 4, (
            f"{name} became Ready {ready_at - started} after start"
        )
    rollout = json.loads(cluster.kubectl("-n", namespace, "get", "deployment", "slow", "-o", "json").stdout)
    assert rollout["status"]["readyReplicas"] == 3


def test_one_pod_of_a_deployment_restarts_after_oomkilled(cluster: Cluster, namespace: str) -> None:
    apply_and_watch_pods(
        cluster,
        namespace,
        deployment_manifest("model", 2, {}),
        lambda pods: len(pods) == 2 and all(is_ready(p) for p in pods.values()),
    )
    pods = json.loads(cluster.kubectl("-n", namespace, "get", "pods", "-o", "json").stdout)["items"]
    victim, bystander = sorted(pod["metadata"]["name"] for pod in pods)

    cluster.kubectl(
        "-n",
        namespace,
        "annotate",
        "pod",
        victim,
        f"{FAIL_REASON}=OOMKilled",
        f"{FAIL_TIMES}=1",
        f"{FAIL_AFTER}=1s",
    )

    restarted = wait_for(
        pod_once(
            cluster,
            namespace,
            victim,
            lambda pod: container_status(pod).get("restartCount", 0) >= 1 and is_ready(pod),
        ),
        timeout=60,
        message=f"{victim} to restart once and be Ready again",
    )
    status = container_status(restarted)
    terminated = status["lastState"]["terminated"]
    assert status["restartCount"] == 1
    assert terminated["reason"] == "OOMKilled"
    assert terminated["exitCode"] == 137
    assert parse_time(terminated["finishedAt"]) >= parse_time(terminated["startedAt"])
    assert container_status(get_pod(cluster, namespace, bystander))["restartCount"] == 0


def test_crash_while_loading_the_model_never_becomes_ready(cluster: Cluster, namespace: str) -> None:
    annotations = {START_DELAY: "3s", FAIL_REASON: "Error", FAIL_DURING: "loading", FAIL_AFTER: "1s"}
    history = apply_and_watch_pods(
        cluster,
        namespace,
        pod_manifest("loader", annotations),
        lambda pods: container_status(pods.get("loader", {})).get("restartCount", 0) >= 2,
    )

    assert not any(is_ready(pod) for pod in history), "a pod that crashes while loading was Ready"
    not_ready_since = {
        condition(pod, "Ready")["lastTransitionTime"] for pod in history if condition(pod, "Ready")
    }
    assert len(not_ready_since) == 1, "Ready's lastTransitionTime moved although Ready stayed False"
    final = history[-1]
    status = container_status(final)
    assert status["restartCount"] >= 2
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["ready"] is False


def test_gpu_requests_schedule_within_node_capacity(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=pod_manifest("one-gpu", {}, {"nvidia.com/gpu": "1"})
    )
    cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=pod_manifest("nine-gpus", {}, {"nvidia.com/gpu": "9"})
    )

    scheduled = wait_for(
        pod_once(cluster, namespace, "one-gpu", is_ready),
        timeout=60,
        message="the 1-GPU pod to be Ready",
    )
    assert scheduled["spec"]["nodeName"].startswith("kwok-node-")
    too_big = wait_for(
        pod_once(cluster, namespace, "nine-gpus", lambda pod: bool(condition(pod, "PodScheduled"))),
        timeout=60,
        message="the scheduler's verdict on the 9-GPU pod",
    )
    assert condition(too_big, "PodScheduled")["reason"] == "Unschedulable"
    assert "nvidia.com/gpu" in condition(too_big, "PodScheduled")["message"]


@contextlib.contextmanager
def metrics_endpoint(exposition: str) -> Iterator[str]:
    """Serve `exposition` at http://127.0.0.1:PORT/metrics from a thread; yields "127.0.0.1:PORT"."""
    payload = exposition.encode()

    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pod_target(address: str, namespace: str, deployment: str, pod: str) -> dict[str, Any]:
    """A file_sd target group carrying the labels Kubernetes pod discovery would give it."""
    return {
        "targets": [address],
        "labels": {
            "__meta_kubernetes_namespace": namespace,
            "__meta_kubernetes_pod_name": pod,
            "__meta_kubernetes_pod_label_serving_modelscaler_io_deployment": deployment,
        },
    }


def test_prometheus_scrapes_a_target_and_applies_the_label_contract(
    prometheus: Prometheus, namespace: str
) -> None:
    query = f'modelscaler_fixture_probe{{namespace="{namespace}"}}'
    with metrics_endpoint(
        "# TYPE modelscaler_fixture_probe gauge\nmodelscaler_fixture_probe 42\n"
    ) as address:
        prometheus.set_targets(namespace, [pod_target(address, namespace, "llama", "llama-7f9c-abcde")])
        try:
            series = wait_for(lambda: prometheus.query(query), timeout=60, message=f"a sample of {query}")
        finally:
            prometheus.remove_targets(namespace)

    assert len(series) == 1
    labels = series[0]["metric"]
    assert labels["modeldeployment"] == "llama"
    assert labels["namespace"] == namespace
    assert labels["pod"] == "llama-7f9c-abcde"
    assert not any(name.startswith("__meta") for name in labels)
    assert float(series[0]["value"][1]) == 42.0


def test_prometheus_restarts_on_its_port_with_its_data(prometheus: Prometheus, namespace: str) -> None:
    query = f'modelscaler_fixture_restart{{namespace="{namespace}"}}'
    with metrics_endpoint("modelscaler_fixture_restart 7\n") as address:
        prometheus.set_targets(namespace, [pod_target(address, namespace, "demo", "demo-0")])
        try:
            wait_for(lambda: prometheus.query(query), timeout=60, message=f"a sample of {query}")
        finally:
            prometheus.remove_targets(namespace)
    scraped_before_stop = time.time()
    url = prometheus.url

    prometheus.stop()
    with pytest.raises(PrometheusQueryError):
        prometheus.query("up")
    prometheus.start()

    assert prometheus.url == url
    kept = prometheus.query(f"count_over_time({query}[10m] @ {scraped_before_stop:.3f})")
    assert kept, "samples scraped before the restart are gone"
    assert float(kept[0]["value"][1]) >= 1


def test_namespace_names_are_valid_and_unique() -> None:
    long_name = "test_a_very_long_parametrised_name[case-with_UPPER.and.dots-" + "x" * 80 + "]"
    names = {unique_namespace_name(long_name) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert len(name) <= 63
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
