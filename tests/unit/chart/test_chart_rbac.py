"""The rendered RBAC against an allowlist: exactly what the operator calls, no wildcards, no Secrets.

The allowlist is the actuator's ACTUATOR_RBAC_RULES (proven sufficient by its own integration
test) plus what the runtime's kopf watches need; tests/integration/test_chart.py proves the whole
set sufficient by running the operator with the chart's ServiceAccount token.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.chart.chart_helpers import CHART, RELEASE_NAMESPACE, of_kind, rbac_rules, render

from modelscaler.actuator.rbac import ACTUATOR_RBAC_RULES

Grant = tuple[str, str]  # (apiGroup, resource)

WORKLOAD_ALLOWLIST: dict[Grant, set[str]] = {
    # kopf: watch + index, progress in annotations.
    ("serving.modelscaler.io", "modeldeployments"): {"get", "list", "watch", "patch"},
    ("serving.modelscaler.io", "modeldeployments/status"): {"patch"},
    ("serving.modelscaler.io", "modeldeployments/finalizers"): {"update"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch"},
    ("apps", "deployments/scale"): {"get", "patch"},
    ("", "services"): {"get", "create", "patch"},
    ("", "pods"): {"list", "watch"},
    ("", "events"): {"create", "patch"},
    ("autoscaling", "horizontalpodautoscalers"): {"list", "watch"},
    ("keda.sh", "scaledobjects"): {"list"},
}
# kopf's scans (cluster-scoped, read only): without them it retries 403s and logs warnings.
CRD_DISCOVERY: dict[Grant, set[str]] = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"}
}
NAMESPACE_DISCOVERY: dict[Grant, set[str]] = {("", "namespaces"): {"list", "watch"}}
LEASE: dict[Grant, set[str]] = {
    ("coordination.k8s.io", "leases"): {"create"},
    ("coordination.k8s.io", "leases:modelscaler-operator"): {"get", "update"},
}


def grants_by_role(helm: str, values: list[Path]) -> dict[str, dict[Grant, set[str]]]:
    """{role: {(group, resource): verbs}} of the rendered chart."""
    out: dict[str, dict[Grant, set[str]]] = {}
    for (owner, group, resource), verbs in rbac_rules(render(helm, values)).items():
        out.setdefault(owner, {})[(group, resource)] = verbs
    return out


def test_cluster_wide_rbac_is_exactly_the_allowlist(helm: str) -> None:
    roles = grants_by_role(helm, [])

    assert roles == {
        "ClusterRole/ms-modelscaler@": WORKLOAD_ALLOWLIST | CRD_DISCOVERY,
        f"Role/ms-modelscaler-leader-election@{RELEASE_NAMESPACE}": LEASE,
    }


def test_namespaced_rbac_is_a_role_per_watched_namespace(helm: str) -> None:
    roles = grants_by_role(helm, [CHART / "ci" / "namespaced-values.yaml"])

    assert roles == {
        "Role/ms-modelscaler@team-a": WORKLOAD_ALLOWLIST,
        "Role/ms-modelscaler@team-b": WORKLOAD_ALLOWLIST,
        "ClusterRole/ms-modelscaler-discovery@": CRD_DISCOVERY | NAMESPACE_DISCOVERY,
        f"Role/ms-modelscaler-leader-election@{RELEASE_NAMESPACE}": LEASE,
    }


def test_without_keda_the_scaled_objects_grant_is_gone(helm: str) -> None:
    manifests = render(helm, set_values=['rbac={"keda": false}'])

    assert not [key for key in rbac_rules(manifests) if key[1] == "keda.sh"]


def test_the_allowlist_covers_every_actuator_rule() -> None:
    for rule in ACTUATOR_RBAC_RULES:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert set(rule["verbs"]) <= WORKLOAD_ALLOWLIST[(group, resource)], (group, resource)


@pytest.mark.parametrize("values", ["default", "namespaced"])
def test_no_wildcards_no_secrets_no_escalation(helm: str, values: str) -> None:
    files = [] if values == "default" else [CHART / "ci" / f"{values}-values.yaml"]
    manifests = render(helm, files)

    for role in of_kind(manifests, "Role") + of_kind(manifests, "ClusterRole"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (role["metadata"]["name"], rule)
            assert "secrets" not in rule["resources"]
            assert not {"escalate", "bind", "impersonate", "delete", "deletecollection"} & set(rule["verbs"])
            assert "nonResourceURLs" not in rule


@pytest.mark.parametrize("values", ["default", "namespaced"])
def test_every_binding_binds_its_role_to_the_chart_service_account(helm: str, values: str) -> None:
    files = [] if values == "default" else [CHART / "ci" / f"{values}-values.yaml"]
    manifests = render(helm, files)
    roles = {(r["kind"], r["metadata"]["name"], r["metadata"].get("namespace")) for r in manifests}

    bindings = of_kind(manifests, "RoleBinding") + of_kind(manifests, "ClusterRoleBinding")
    assert len(bindings) == len(of_kind(manifests, "Role") + of_kind(manifests, "ClusterRole"))
    for binding in bindings:
        ref = binding["roleRef"]
        scope = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], ref["name"], scope) in roles
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "ms-modelscaler", "namespace": RELEASE_NAMESPACE}
        ]
