"""Sample objects for the actuator's unit tests: a ModelDeployment body and pod dicts."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

MD_UID = "0b5e4a4e-7d0e-4f43-9a52-3c9c1d2a7f10"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

_MD: dict[str, Any] = {
    "apiVersion": "serving.modelscaler.io/v1alpha1",
    "kind": "ModelDeployment",
    "metadata": {"name": "llama", "namespace": "ml", "uid": MD_UID, "generation": 3, "labels": {"team": "a"}},
    "spec": {
        "environment": "production",
        "template": {
            "metadata": {
                "labels": {"app": "llama", "serving.modelscaler.io/deployment": "spoofed"},
                "annotations": {"modelscaler.io/start-delay": "30s"},
            },
            "spec": {
                "containers": [
                    {
                        "name": "sidecar",
                        "image": "proxy:1",
                        "ports": [{"name": "admin", "containerPort": 9000}],
                    },
                    {
                        "name": "server",
                        "image": "vllm:0.6",
                        "ports": [{"name": "http", "containerPort": 8000}],
                        "resources": {"limits": {"nvidia.com/gpu": 1}},
                        "env": None,
                    },
                ]
            },
        },
        "serving": {"port": "http", "engine": "vllm"},
        "autoscaling": {"minReplicas": 1, "maxReplicas": 5},
    },
}


def make_md(**spec_changes: Any) -> dict[str, Any]:
    """A fresh ModelDeployment body; keyword arguments replace top-level spec fields."""
    md = copy.deepcopy(_MD)
    md["spec"].update(spec_changes)
    return md


def at(seconds: float) -> str:
    """An RFC 3339 timestamp `seconds` after EPOCH, as the API server writes it."""
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_pod(
    name: str,
    *,
    created: float = 0.0,
    ready: bool,
    ready_changed: float | None = None,
    containers: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    phase: str = "Running",
    template_hash: str = "7c9f",
) -> dict[str, Any]:
    """A pod dict as the API server returns it (only the fields summarise_pods reads)."""
    pod: dict[str, Any] = {
        "metadata": {
            "name": name,
            "creationTimestamp": at(created),
            "labels": {"pod-template-hash": template_hash},
        },
        "status": {
            "phase": phase,
            "startTime": at(created),
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": at(created)},
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": at(created if ready_changed is None else ready_changed),
                },
            ],
            "containerStatuses": containers or [{"name": "server", "restartCount": 0, "ready": ready}],
        },
    }
    if deleting:
        pod["metadata"]["deletionTimestamp"] = at(created + 1000)
    return pod


def crashed_container(
    *, restarts: int, reason: str, exit_code: int, started: float, finished: float, message: str | None = None
) -> dict[str, Any]:
    """A container status whose last run terminated as given and which now waits in back-off."""
    terminated: dict[str, Any] = {
        "reason": reason,
        "exitCode": exit_code,
        "startedAt": at(started),
        "finishedAt": at(finished),
    }
    if message is not None:
        terminated["message"] = message
    return {
        "name": "server",
        "restartCount": restarts,
        "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": terminated},
    }
