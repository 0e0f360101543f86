"""The actuator against the real API server of the local cluster.

Each test creates a ModelDeployment with kubectl (so the API server validates,
defaults and assigns the uid), reads it back as the operator would, and drives
`KubeActuator` with asyncio.run; the results are checked with kubectl.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cluster import Cluster, wait_for

from modelscaler.actuator.kube import EnsureResult, KubeActuator, Outcome
from modelscaler.actuator.ownership import FIELD_MANAGER, applier_owns
from modelscaler.actuator.pods import summarise_pods
from modelscaler.actuator.rbac import ACTUATOR_RBAC_RULES

CRD_PATH = Path(__file__).resolve().parents[2] / "crds" / "serving.modelscaler.io_modeldeployments.yaml"
CRD_NAME = "modeldeployments.serving.modelscaler.io"
MD_NAME = "llama"


@pytest.fixture(scope="module")
def crd(cluster: Cluster) -> str:
    """The ModelDeployment CRD, applied and Established."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_PATH))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    return CRD_NAME


@pytest.fixture
def actuator(cluster: Cluster) -> Iterator[KubeActuator]:
    """A KubeActuator on its own ApiClient."""
    api_client = cluster.api_client()
    try:
        yield KubeActuator(api_client, request_timeout=20.0, reporting_instance="test-operator")
    finally:
        api_client.close()


def model_deployment(
    namespace: str, image: str = "vllm:0.6", env: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A ModelDeployment manifest with one server container."""
    container: dict[str, Any] = {
        "name": "server",
        "image": image,
        "ports": [{"name": "http", "containerPort": 8000}],
    }
    if env:
        container["env"] = env
    return {
        "apiVersion": "serving.modelscaler.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": MD_NAME, "namespace": namespace},
        "spec": {
            "environment": "staging",
            "template": {
                "metadata": {"annotations": {"modelscaler.io/start-delay": "2s"}},
                "spec": {"containers": [container]},
            },
            "serving": {"port": "http", "engine": "vllm"},
            "autoscaling": {"minReplicas": 1, "maxReplicas": 8},
        },
    }


def get(cluster: Cluster, namespace: str, resource: str, name: str) -> dict[str, Any]:
    """One object as JSON (with its managedFields), via kubectl."""
    found: dict[str, Any] = json.loads(
        cluster.kubectl("-n", namespace, "get", resource, name, "-o", "json", "--show-managed-fields").stdout
    )
    return found


def apply_md(cluster: Cluster, manifest: dict[str, Any]) -> dict[str, Any]:
    """Applies a ModelDeployment with kubectl and returns it as stored (with uid and defaults)."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    return get(cluster, manifest["metadata"]["namespace"], "modeldeployment", manifest["metadata"]["name"])


def server_container(deployment: dict[str, Any]) -> dict[str, Any]:
    """The Deployment's pod template's first container."""
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_ensure_owned_creates_the_deployment_and_service_owned_by_the_model_deployment(
    cluster: Cluster, namespace: str, crd: str, actuator: KubeActuator
) -> None:
    md = apply_md(cluster, model_deployment(namespace))

    created = asyncio.run(actuator.ensure_owned(md, initial_replicas=2))
    again = asyncio.run(actuator.ensure_owned(md, initial_replicas=2))

    assert created == EnsureResult(deployment=Outcome.CREATED, service=Outcome.CREATED)
    assert again == EnsureResult(deployment=Outcome.UNCHANGED, service=Outcome.UNCHANGED)
    deployment = get(cluster, namespace, "deployment", MD_NAME)
    service = get(cluster, namespace, "service", MD_NAME)
    owner = {
        "apiVersion": "serving.modelscaler.io/v1alpha1",
        "kind": "ModelDeployment",
        "name": MD_NAME,
        "uid": md["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    for owned in (deployment, service):
        assert owned["metadata"]["ownerReferences"] == [owner]
        assert owned["metadata"]["labels"]["serving.modelscaler.io/deployment"] == MD_NAME
        assert owned["metadata"]["labels"]["serving.modelscaler.io/environment"] == "staging"
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {"modelscaler.io/start-delay": "2s"}
    assert (
        deployment["spec"]["template"]["metadata"]["labels"]["serving.modelscaler.io/deployment"] == MD_NAME
    )
    assert service["spec"]["selector"] == {"serving.modelscaler.io/deployment": MD_NAME}
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("http", 8000, "http")
    ]
    # After creation the applier has handed spec.replicas over to the scale writer.
    assert not applier_owns(deployment, FIELD_MANAGER, ("spec", "replicas"))
    assert applier_owns(deployment, FIELD_MANAGER, ("spec", "template"))


def test_template_changes_roll_the_deployment_and_never_reset_replicas(
    cluster: Cluster, namespace: str, crd: str, actuator: KubeActuator
) -> None:
    md = apply_md(cluster, model_deployment(namespace))
    asyncio.run(actuator.ensure_owned(md, initial_replicas=3))
    # The initial count survives a template change before any scale write...
    with_env = apply_md(
        cluster, model_deployment(namespace, image="vllm:0.7", env=[{"name": "A", "value": "1"}])
    )
    first_update = asyncio.run(actuator.ensure_owned(with_env, initial_replicas=1))
    after_first_update = get(cluster, namespace, "deployment", MD_NAME)
    # ...and so does a count the scale writer set.
    scaled_to = asyncio.run(actuator.set_scale(namespace, MD_NAME, 4))
    without_env = apply_md(cluster, model_deployment(namespace, image="vllm:0.8"))
    second_update = asyncio.run(actuator.ensure_owned(without_env, initial_replicas=1))
    after_second_update = get(cluster, namespace, "deployment", MD_NAME)

    assert first_update.deployment is Outcome.UPDATED
    assert after_first_update["spec"]["replicas"] == 3
    assert server_container(after_first_update)["image"] == "vllm:0.7"
    assert server_container(after_first_update)["env"] == [{"name": "A", "value": "1"}]
    assert scaled_to == 4
    assert second_update.deployment is Outcome.UPDATED
    assert after_second_update["spec"]["replicas"] == 4
    assert asyncio.run(actuator.get_scale(namespace, MD_NAME)) == 4
    assert server_container(after_second_update)["image"] == "vllm:0.8"
    assert "env" not in server_container(after_second_update), "a field dropped from the spec is removed"
    assert after_second_update["metadata"]["generation"] > after_first_update["metadata"]["generation"]


def test_a_foreign_deployment_of_the_same_name_is_not_adopted(
    cluster: Cluster, namespace: str, crd: str, actuator: KubeActuator
) -> None:
    cluster.kubectl(
        "-n", namespace, "create", "deployment", MD_NAME, "--image=someone-else:1", "--replicas=1"
    )
    md = apply_md(cluster, model_deployment(namespace))

    result = asyncio.run(actuator.ensure_owned(md, initial_replicas=2))

    assert result.deployment is Outcome.CONFLICT
    assert not result.ok
    assert "not adopted" in result.message
    foreign = get(cluster, namespace, "deployment", MD_NAME)
    assert "ownerReferences" not in foreign["metadata"]
    assert server_container(foreign)["image"] == "someone-else:1"
    assert result.service is Outcome.CREATED


def test_a_spec_the_api_server_refuses_is_reported_invalid(
    cluster: Cluster, namespace: str, crd: str, actuator: KubeActuator
) -> None:
    manifest = model_deployment(namespace)
    manifest["spec"]["template"]["spec"]["containers"][0]["resourcs"] = {"limits": {"memory": "1Gi"}}
    md = apply_md(cluster, manifest)

    result = asyncio.run(actuator.ensure_owned(md, initial_replicas=1))

    assert result.deployment is Outcome.INVALID
    assert "resourcs" in result.message
    assert cluster.kubectl("-n", namespace, "get", "deployment", MD_NAME, check=False).returncode != 0


def test_scale_of_a_missing_deployment_is_none(
    cluster: Cluster, namespace: str, actuator: KubeActuator
) -> None:
    assert asyncio.run(actuator.get_scale(namespace, "missing")) is None
    assert asyncio.run(actuator.set_scale(namespace, "missing", 2)) is None


def test_patch_status_merges_fields_and_replaces_conditions(
    cluster: Cluster, namespace: str, crd: str, actuator: KubeActuator
) -> None:
    apply_md(cluster, model_deployment(namespace))
    condition_a = {
        "type": "Ready",
        "status": "False",
        "reason": "Starting",
        "message": "0/2 ready",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    condition_b = {
        "type": "ScalingActive",
        "status": "True",
        "reason": "ValidMetricFound",
        "message": "ok",
        "lastTransitionTime": "2026-01-01T00:00:05Z",
    }

    first = asyncio.run(
        actuator.patch_status(
            namespace, MD_NAME, {"replicas": 2, "readyReplicas": 0, "conditions": [condition_a, condition_b]}
        )
    )
    asyncio.run(actuator.patch_status(namespace, MD_NAME, {"readyReplicas": 2, "conditions": [condition_b]}))
    gone = asyncio.run(actuator.patch_status(namespace, "missing", {"replicas": 1}))

    assert first is not None
    assert first["status"]["conditions"] == [condition_a, condition_b]
    status = get(cluster, namespace, "modeldeployment", MD_NAME)["status"]
    assert (status["replicas"], status["readyReplicas"]) == (2, 2)
    assert status["conditions"] == [condition_b]
    assert gone is None


def events_about(cluster: Cluster, namespace: str, uid: str) -> list[dict[str, Any]]:
    """The namespace's Events whose involvedObject is the object with `uid`."""
    listed = json.loads(cluster.kubectl("-n", namespace, "get", "events", "-o", "json").stdout)
    return [e for e in listed["items"] if e["involvedObject"].get("uid") == uid]


def test_emit_event_creates_then_aggregates_repeats(
    cluster: Cluster, namespace: str, crd: str, actuator: KubeActuator
) -> None:
    md = apply_md(cluster, model_deployment(namespace))

    async def emit_all() -> list[str | None]:
        return [
            await actuator.emit_event(md, "Normal", "ScaledUp", "scaled from 1 to 3"),
            await actuator.emit_event(md, "Normal", "ScaledUp", "scaled from 1 to 3"),
            await actuator.emit_event(md, "Normal", "ScaledUp", "scaled from 1 to 3"),
            await actuator.emit_event(md, "Warning", "CompetingScaler", "x" * 3000),
        ]

    first, second, third, long_one = asyncio.run(emit_all())

    assert first is not None
    assert first == second == third
    assert long_one is not None
    assert long_one != first
    events = {e["metadata"]["name"]: e for e in events_about(cluster, namespace, md["metadata"]["uid"])}
    assert set(events) == {first, long_one}
    repeated = events[first]
    assert (repeated["type"], repeated["reason"], repeated["count"]) == ("Normal", "ScaledUp", 3)
    assert repeated["involvedObject"]["kind"] == "ModelDeployment"
    assert repeated["source"]["component"] == "modelscaler"
    assert repeated["reportingComponent"] == "modelscaler"
    assert len(events[long_one]["message"]) == 1024
    described = cluster.kubectl("-n", namespace, "describe", "modeldeployment", MD_NAME).stdout
    assert "scaled from 1 to 3" in described


def test_an_hpa_targeting_the_deployment_is_found(
    cluster: Cluster, namespace: str, crd: str, actuator: KubeActuator
) -> None:
    md = apply_md(cluster, model_deployment(namespace))
    asyncio.run(actuator.ensure_owned(md, initial_replicas=1))
    for hpa_name, target in (("foo", MD_NAME), ("unrelated", "other")):
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": hpa_name, "namespace": namespace},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "minReplicas": 1,
                "maxReplicas": 3,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ],
            },
        }
        cluster.kubectl("apply", "-f", "-", input=json.dumps(hpa))

    competitors = asyncio.run(actuator.find_competing_scalers(namespace, MD_NAME))
    none_for_other = asyncio.run(actuator.find_competing_scalers(namespace, "nothing-targets-this"))

    assert competitors == ["HorizontalPodAutoscaler/foo"]
    assert none_for_other == []


def kwok_pod(name: str, annotations: dict[str, str]) -> str:
    """A bare pod of the model deployment (it carries the metrics label) whose life kwok simulates."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "labels": {"serving.modelscaler.io/deployment": MD_NAME},
                "annotations": annotations,
            },
            "spec": {"containers": [{"name": "server", "image": "vllm:0.6"}]},
        }
    )


def pods_of_model(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """The model deployment's pods by name, as the API server returns them."""
    listed = json.loads(
        cluster.kubectl(
            "-n", namespace, "get", "pods", "-l", f"serving.modelscaler.io/deployment={MD_NAME}", "-o", "json"
        ).stdout
    )
    return {pod["metadata"]["name"]: pod for pod in listed["items"]}


def is_ready(pod: dict[str, Any]) -> bool:
    """Whether the pod's Ready condition is True."""
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", [])
    )


def restarted(pod: dict[str, Any]) -> bool:
    """Whether the pod's container has terminated at least once."""
    return any(s.get("restartCount", 0) >= 1 for s in pod.get("status", {}).get("containerStatuses", []))


def test_pod_summary_of_simulated_pods(cluster: Cluster, namespace: str) -> None:
    long_backoff = {"modelscaler.io/restart-backoff": "600s"}
    pods = {
        "healthy": {"modelscaler.io/start-delay": "2s"},
        "loading": {"modelscaler.io/start-delay": "600s"},
        "oom": {
            "modelscaler.io/start-delay": "1s",
            "modelscaler.io/fail-reason": "OOMKilled",
            "modelscaler.io/fail-after": "2s",
            **long_backoff,
        },
        "stopping": {"modelscaler.io/stop-delay": "600s"},
    }
    for name, pod_annotations in pods.items():
        cluster.kubectl("-n", namespace, "apply", "-f", "-", input=kwok_pod(name, pod_annotations))

    def settled() -> bool:
        now = pods_of_model(cluster, namespace)
        return is_ready(now["stopping"]) and is_ready(now["healthy"]) and restarted(now["oom"])

    def stopping_terminates() -> dict[str, dict[str, Any]] | None:
        now = pods_of_model(cluster, namespace)
        return now if now["stopping"]["metadata"].get("deletionTimestamp") else None

    wait_for(settled, timeout=120, message="healthy and stopping Ready, oom restarted")
    cluster.kubectl("-n", namespace, "delete", "pod", "stopping", "--wait=false")
    seen = wait_for(stopping_terminates, timeout=60, message="the stopping pod to be terminating")

    summary = summarise_pods(seen.values())

    assert (summary.ready, summary.starting, summary.terminating) == (1, 2, 1)
    (oom,) = summary.restarts
    assert (oom.pod, oom.container, oom.reason, oom.exit_code) == ("oom", "server", "OOMKilled", 137)
    assert oom.was_ready is True, "the OOM kill hit a Ready container"
    assert summary.waiting_reasons == {"CrashLoopBackOff": 1}
    (start,) = summary.starts
    assert start.pod == "healthy"
    assert start.seconds_to_ready >= 2.0, "Ready only after the simulated 2 s cold start"


def test_a_crash_while_loading_is_seen_as_never_ready(cluster: Cluster, namespace: str) -> None:
    crash_while_loading = {
        "modelscaler.io/start-delay": "600s",
        "modelscaler.io/fail-reason": "Error",
        "modelscaler.io/fail-during": "loading",
        "modelscaler.io/fail-after": "2s",
        "modelscaler.io/restart-backoff": "600s",
    }
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=kwok_pod("loader", crash_while_loading))

    def crashed() -> dict[str, dict[str, Any]] | None:
        now = pods_of_model(cluster, namespace)
        return now if restarted(now.get("loader", {})) else None

    seen = wait_for(crashed, timeout=60, message="the loader pod to crash")

    (restart,) = summarise_pods(seen.values()).restarts

    assert (restart.pod, restart.reason, restart.exit_code) == ("loader", "Error", 1)
    assert restart.was_ready is False


@pytest.fixture
def least_privileged_actuator(cluster: Cluster, namespace: str, crd: str) -> Iterator[KubeActuator]:
    """A KubeActuator acting as a service account granted ACTUATOR_RBAC_RULES only (by impersonation)."""
    role_name = f"modelscaler-actuator-{namespace}"
    account = "modelscaler"
    manifests = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role_name},
            "rules": list(ACTUATOR_RBAC_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "modelscaler-actuator", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    ]
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})
    )
    api_client = cluster.api_client()
    api_client.set_default_header("Impersonate-User", f"system:serviceaccount:{namespace}:{account}")
    try:
        yield KubeActuator(api_client, request_timeout=20.0)
    finally:
        api_client.close()
        cluster.kubectl("delete", "clusterrole", role_name, "--wait=false", check=False)


def test_every_call_works_with_the_documented_rbac_rules_alone(
    cluster: Cluster, namespace: str, least_privileged_actuator: KubeActuator
) -> None:
    actuator = least_privileged_actuator
    md = apply_md(cluster, model_deployment(namespace))
    user = f"system:serviceaccount:{namespace}:modelscaler"
    refused = cluster.kubectl(
        "-n", namespace, "auth", "can-i", "delete", "deployments", "--as", user, check=False
    )

    async def every_call() -> list[object]:
        return [
            await actuator.ensure_owned(md, initial_replicas=2),
            await actuator.ensure_owned(md, initial_replicas=2),
            await actuator.set_scale(namespace, MD_NAME, 3),
            await actuator.get_scale(namespace, MD_NAME),
            await actuator.patch_status(namespace, MD_NAME, {"replicas": 3}) is not None,
            await actuator.emit_event(md, "Normal", "ScaledUp", "2 -> 3") is not None,
            await actuator.emit_event(md, "Normal", "ScaledUp", "2 -> 3") is not None,
            await actuator.find_competing_scalers(namespace, MD_NAME),
        ]

    results = asyncio.run(every_call())

    assert refused.stdout.strip() == "no", "the role must not grant more than it lists"
    assert results == [
        EnsureResult(deployment=Outcome.CREATED, service=Outcome.CREATED),
        EnsureResult(deployment=Outcome.UNCHANGED, service=Outcome.UNCHANGED),
        3,
        3,
        True,
        True,
        True,
        [],
    ]
