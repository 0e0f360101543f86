"""Who owns which field of an owned object under server-side apply, and the replicas hand-over.

Two field managers write a Deployment:

* `modelscaler` applies the manifest (labels, owner references, selector, pod
  template, strategy) with server-side apply, and never includes spec.replicas
  after the hand-over below;
* `modelscaler-scale` owns spec.replicas: it writes them through the /scale
  subresource (an Update) and, once, by a tiny apply that takes them over.

Why the hand-over: the Deployment is created by an apply that includes the
initial replicas (so it never starts at the default of 1). That makes
`modelscaler` an owner of spec.replicas, and server-side apply removes a field
from the object when its only applier stops sending it: the next apply without
replicas would reset the Deployment to 1. So before applying without replicas,
`modelscaler-scale` applies just {spec.replicas: <live value>}, becoming a
co-owner; `modelscaler` then drops the field and the value stays. The check runs
on every ensure, so an object left half-way (a crash between the two calls)
is repaired on the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELD_MANAGER = "modelscaler"
SCALE_MANAGER = "modelscaler-scale"


def applier_owns(obj: Mapping[str, Any], manager: str, path: tuple[str, ...]) -> bool:
    """Whether `manager`'s apply (not an update, not a subresource) owns the field at `path`."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply" or entry.get("subresource"):
            continue
        fields: Any = entry.get("fieldsV1") or {}
        for segment in path:
            fields = fields.get(f"f:{segment}") if isinstance(fields, Mapping) else None
        if fields is not None:
            return True
    return False


def replicas_handover(deployment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The apply configuration `SCALE_MANAGER` sends to take spec.replicas over, or None if not needed.

    Needed while `FIELD_MANAGER`'s apply owns spec.replicas (see the module doc). The
    value is the live one, so the hand-over never changes the replica count.
    """
    if not applier_owns(deployment, FIELD_MANAGER, ("spec", "replicas")):
        return None
    metadata = deployment.get("metadata") or {}
    replicas = (deployment.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int):
        return None
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": metadata.get("name"), "namespace": metadata.get("namespace")},
        "spec": {"replicas": replicas},
    }
