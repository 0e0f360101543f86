"""Helpers of the end-to-end tests: manifests with compressed time, reads of what the operator wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml
from tests.e2e.operator_process import OperatorProcess
from tests.support.cluster import Cluster, wait_for

OperatorFactory = Callable[..., OperatorProcess]


def model_deployment(
    name: str, *, start_delay: str = "3s", engine: str = "generic", **autoscaling: Any
) -> str:
    """A ModelDeployment manifest with compressed-time settings, as YAML."""
    settings = {
        "minReplicas": 1,
        "maxReplicas": 8,
        "concurrencyTarget": 2,
        "targetUtilization": 1.0,
        "autoscalingWindow": "10s",
        "panicWindow": "2s",
        "scaleDownDelay": "20s",
        "maxScaleDownRate": 0.5,
        **autoscaling,
    }
    body = {
        "apiVersion": "serving.modelscaler.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": {"modelscaler.io/start-delay": start_delay}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "example.invalid/model-server:1",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
            "serving": {"port": "http", "engine": engine},
            "autoscaling": settings,
            "diagnosis": {"latencyObjective": {"percentile": 95, "seconds": 2}},
        },
    }
    return yaml.safe_dump(body)


def get_json(cluster: Cluster, namespace: str, *what: str) -> dict[str, Any]:
    """`kubectl get -o json` parsed."""
    result: dict[str, Any] = json.loads(cluster.kubectl("-n", namespace, "get", *what, "-o", "json").stdout)
    return result


def deployment_replicas(cluster: Cluster, namespace: str, name: str) -> int | None:
    """The owned Deployment's spec.replicas (None while it does not exist)."""
    found = cluster.kubectl("-n", namespace, "get", "deployment", name, "-o", "json", check=False)
    if found.returncode != 0:
        return None
    replicas: int = json.loads(found.stdout)["spec"].get("replicas", 1)
    return replicas


def condition(md: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    """One condition of a ModelDeployment object, or None."""
    for found in md.get("status", {}).get("conditions", []):
        if found.get("type") == ctype:
            return dict(found)
    return None


def wait_for_replicas(
    cluster: Cluster, namespace: str, name: str, predicate: Callable[[int], bool], timeout: float, what: str
) -> int:
    """Waits until the Deployment's replicas satisfy `predicate`; returns them."""
    seen: list[int | None] = [None]

    def check() -> bool:
        seen[0] = deployment_replicas(cluster, namespace, name)
        return seen[0] is not None and predicate(seen[0])

    wait_for(check, timeout=timeout, interval=0.5, message=f"{what} (last seen {seen[0]})")
    assert seen[0] is not None
    return seen[0]
