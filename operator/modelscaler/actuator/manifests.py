"""Pure builders of the objects a ModelDeployment owns: its Deployment and its Service.

They take the custom resource's body as a plain dict (what the API server stores and
kopf hands over) and return apply configurations: complete, deterministic manifests
that `kube.KubeActuator` sends with server-side apply. No I/O, no clock.

The label contract: every owned object and every pod carries
`serving.modelscaler.io/deployment: <name>`; Prometheus relabels it to the
`modeldeployment` label that the operator's queries group by, and the Deployment
and Service select pods on it alone.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

GROUP = "serving.modelscaler.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ModelDeployment"
PLURAL = "modeldeployments"

DEPLOYMENT_LABEL = "serving.modelscaler.io/deployment"
ENVIRONMENT_LABEL = "serving.modelscaler.io/environment"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "modelscaler"

SERVICE_PORT_NAME = "http"
DEFAULT_SERVING_PORT = "http"

_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_VALUE_MAX_LENGTH = 63


class ManifestError(ValueError):
    """The ModelDeployment cannot be turned into valid owned objects (the message says why)."""


def _label_value(value: str, what: str) -> str:
    if len(value) > _LABEL_VALUE_MAX_LENGTH or _LABEL_VALUE.fullmatch(value) is None:
        raise ManifestError(
            f"{what} {value!r} is not a valid label value "
            f"(at most {_LABEL_VALUE_MAX_LENGTH} letters, digits, '-', '_' or '.')"
        )
    return value


def _metadata(md: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = md.get("metadata")
    if not isinstance(metadata, Mapping) or not metadata.get("name") or not metadata.get("namespace"):
        raise ManifestError("the ModelDeployment has no metadata.name or metadata.namespace")
    return metadata


def _spec(md: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = md.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def owner_reference(md: Mapping[str, Any]) -> dict[str, Any]:
    """The controller owner reference that makes garbage collection delete what the MD owns."""
    metadata = _metadata(md)
    uid = metadata.get("uid")
    if not uid:
        raise ManifestError("the ModelDeployment has no metadata.uid (was it read from the API server?)")
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": metadata["name"],
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_controlled_by(obj: Mapping[str, Any], md: Mapping[str, Any]) -> bool:
    """Whether `obj` names this ModelDeployment (by uid) as its controller."""
    uid = _metadata(md).get("uid")
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("controller") is True and ref.get("uid") == uid for ref in references)


def selector_labels(md: Mapping[str, Any]) -> dict[str, str]:
    """The labels the Deployment and Service select pods on (never changes: selectors are immutable)."""
    name = str(_metadata(md)["name"])
    return {DEPLOYMENT_LABEL: _label_value(name, "the ModelDeployment name")}


def owned_labels(md: Mapping[str, Any]) -> dict[str, str]:
    """The labels on every owned object and pod: the selector plus name, manager and environment."""
    labels = {NAME_LABEL: str(_metadata(md)["name"]), MANAGED_BY_LABEL: MANAGED_BY, **selector_labels(md)}
    environment = _spec(md).get("environment")
    if environment:
        labels[ENVIRONMENT_LABEL] = _label_value(str(environment), "spec.environment")
    return labels


def _owned_metadata(md: Mapping[str, Any]) -> dict[str, Any]:
    metadata = _metadata(md)
    return {
        "name": metadata["name"],
        "namespace": metadata["namespace"],
        "labels": owned_labels(md),
        "ownerReferences": [owner_reference(md)],
    }


def _without_nulls(value: Any) -> Any:
    """A deep copy without None values: in an apply configuration null means "not specified"."""
    if isinstance(value, Mapping):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value if item is not None]
    return copy.deepcopy(value)


def pod_template(md: Mapping[str, Any]) -> dict[str, Any]:
    """spec.template with the owned labels merged in (ours win); annotations pass through unchanged.

    The local cluster's cold-start annotation (`modelscaler.io/start-delay`) travels this way.
    """
    template: dict[str, Any] = _without_nulls(_spec(md).get("template") or {})
    if not isinstance(template.get("spec"), Mapping) or not template["spec"].get("containers"):
        raise ManifestError("spec.template.spec.containers is empty: there is no model server to run")
    template_metadata = dict(template.get("metadata") or {})
    template_metadata["labels"] = {**(template_metadata.get("labels") or {}), **owned_labels(md)}
    template["metadata"] = template_metadata
    return template


def build_deployment(md: Mapping[str, Any], replicas: int | None) -> dict[str, Any]:
    """The apps/v1 Deployment running the model server, as an apply configuration.

    `replicas` is set only when given (at creation); on later applies it is left out so
    that the scale writer alone owns spec.replicas and a template change never resets it.
    Rolling updates surge by 25 % and never take a Ready replica away first: model
    servers are slow to start.
    """
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(md)},
        "template": pod_template(md),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
    }
    if replicas is not None:
        if replicas < 0:
            raise ManifestError(f"replicas must not be negative (got {replicas})")
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _owned_metadata(md), "spec": spec}


def _container_ports(md: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    template = _spec(md).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    return [port for container in containers for port in (container.get("ports") or [])]


def serving_port(md: Mapping[str, Any]) -> tuple[int, int | str]:
    """(the Service's port number, its targetPort) from spec.serving.port.

    A number is used as both. A name (default "http") must be a containerPort's name in
    the template: the Service listens on that port's number and targets the name, so it
    follows the pods even if a later template renumbers the port.
    """
    port = (_spec(md).get("serving") or {}).get("port", DEFAULT_SERVING_PORT)
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, int) and not isinstance(port, bool):
        if not 1 <= port <= 65535:
            raise ManifestError(f"spec.serving.port {port} is not a port number (1-65535)")
        return port, port
    if not isinstance(port, str) or not port:
        raise ManifestError(f"spec.serving.port must be a port name or number (got {port!r})")
    for container_port in _container_ports(md):
        if container_port.get("name") == port and isinstance(container_port.get("containerPort"), int):
            return int(container_port["containerPort"]), port
    raise ManifestError(f"spec.serving.port {port!r} names no port of the template's containers")


def build_service(md: Mapping[str, Any]) -> dict[str, Any]:
    """The ClusterIP Service in front of the model server's pods, as an apply configuration."""
    port, target_port = serving_port(md)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _owned_metadata(md),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(md),
            "ports": [
                {"name": SERVICE_PORT_NAME, "port": port, "targetPort": target_port, "protocol": "TCP"}
            ],
        },
    }
