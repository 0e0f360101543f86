"""The RBAC rules the actuator's calls need, and nothing more (what the chart's role must grant).

An integration test runs every `KubeActuator` call as a service account bound to
exactly these rules, so the list is proven sufficient; a chart test can check that
the chart's ClusterRole covers it. The runtime's own reads (kopf watching
ModelDeployments, pods, Deployments and HPAs, its peering or Lease) are not here.
"""

from __future__ import annotations

from typing import Any

ACTUATOR_RBAC_RULES: tuple[dict[str, Any], ...] = (
    # ensure_owned: read, create by server-side apply (create + patch), update by apply.
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "create", "patch"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "create", "patch"]},
    # get_scale / set_scale.
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
    # patch_status.
    {"apiGroups": ["serving.modelscaler.io"], "resources": ["modeldeployments/status"], "verbs": ["patch"]},
    # Owner references with blockOwnerDeletion, where the OwnerReferencesPermissionEnforcement
    # admission plugin is enabled (OpenShift and some distributions).
    {
        "apiGroups": ["serving.modelscaler.io"],
        "resources": ["modeldeployments/finalizers"],
        "verbs": ["update"],
    },
    # emit_event: create, then bump the count of a repeat.
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    # find_competing_scalers (KEDA's is optional: a 403 or 404 there is tolerated).
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["list"]},
    {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["list"]},
)
