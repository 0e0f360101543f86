"""The pod template: a core/v1 PodTemplateSpec kept as a plain dict, with a partial schema.

A full PodTemplateSpec schema is thousands of lines and would pin us to one
Kubernetes version, so the CRD declares only the parts that modelscaler reads
or that fail late when wrong (containers, their names, images and ports, the
restart policy, label values) and marks every level with
`x-kubernetes-preserve-unknown-fields`, so the rest (resources, probes, volumes,
tolerations, ...) is kept as written. The API server validates the rest when the
operator creates the Deployment. This stays a structural schema: every declared
level has a type, and no anyOf/oneOf is used.

`template_problems` checks a template dict against the same schema in Python,
so pydantic and the API server agree on what the declared part allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Label values and Kubernetes names (the regexes of k8s.io/apimachinery validation).
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# An IANA service name (a container port name): lowercase letters, digits and '-', at most 15.
PORT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
PORT_NAME_MAX_LENGTH = 15
MAX_CONTAINERS = 16
MAX_PORTS = 32

_PORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A port the container listens on (core/v1 ContainerPort); other fields are kept.",
    "x-kubernetes-preserve-unknown-fields": True,
    "required": ["containerPort"],
    "properties": {
        "name": {
            "type": "string",
            "description": "The port's name (an IANA service name); spec.serving.port may refer to it.",
            "maxLength": PORT_NAME_MAX_LENGTH,
            "pattern": PORT_NAME_PATTERN,
        },
        "containerPort": {
            "type": "integer",
            "description": "The port number on the pod's IP address.",
            "minimum": 1,
            "maximum": 65535,
        },
        "protocol": {
            "type": "string",
            "description": "TCP (the default), UDP or SCTP.",
            "enum": ["TCP", "UDP", "SCTP"],
        },
    },
}

_CONTAINER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A container of the model server's pod (core/v1 Container); fields not declared here "
    "(resources, probes, env, ...) are kept as written and validated when the Deployment is created.",
    "x-kubernetes-preserve-unknown-fields": True,
    "required": ["name", "image"],
    "properties": {
        "name": {
            "type": "string",
            "description": "The container's name, a DNS label unique within the pod.",
            "maxLength": 63,
            "pattern": DNS_LABEL_PATTERN,
        },
        "image": {
            "type": "string",
            "description": "The container image.",
            "minLength": 1,
            "maxLength": 4096,
        },
        "ports": {
            "type": "array",
            "description": "Ports the container listens on.",
            "maxItems": MAX_PORTS,
            "items": _PORT_SCHEMA,
        },
    },
}

POD_TEMPLATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The model server's pods: a core/v1 PodTemplateSpec (metadata and spec) as in a "
    "Deployment. Only containers, ports, the restart policy and label values are checked here; the "
    "rest is preserved as written (x-kubernetes-preserve-unknown-fields) and validated by the API "
    "server when the operator creates the Deployment.",
    "x-kubernetes-preserve-unknown-fields": True,
    "required": ["spec"],
    "properties": {
        "metadata": {
            "type": "object",
            "description": "Labels and annotations given to every pod (e.g. modelscaler.io/start-delay).",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "labels": {
                    "type": "object",
                    "description": "Labels of the pods; the operator adds its own selector labels.",
                    "maxProperties": 64,
                    "additionalProperties": {
                        "type": "string",
                        "maxLength": 63,
                        "pattern": LABEL_VALUE_PATTERN,
                    },
                },
                "annotations": {
                    "type": "object",
                    "description": "Annotations of the pods.",
                    "maxProperties": 128,
                    "additionalProperties": {"type": "string", "maxLength": 65536},
                },
            },
        },
        "spec": {
            "type": "object",
            "description": "The pods' core/v1 PodSpec.",
            "x-kubernetes-preserve-unknown-fields": True,
            "required": ["containers"],
            "properties": {
                "containers": {
                    "type": "array",
                    "description": "The pod's containers: at least one, names unique.",
                    "minItems": 1,
                    "maxItems": MAX_CONTAINERS,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": _CONTAINER_SCHEMA,
                },
                "restartPolicy": {
                    "type": "string",
                    "description": "Must be Always (or left out): the pods belong to a Deployment.",
                    "enum": ["Always"],
                },
            },
        },
    },
}

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (Mapping,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _type_ok(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _JSON_TYPES[kind])


def _check(schema: Mapping[str, Any], value: Any, path: str, problems: list[str]) -> None:
    """Checks `value` against the subset of OpenAPI used by POD_TEMPLATE_SCHEMA."""
    kind = schema["type"]
    if not _type_ok(kind, value):
        problems.append(f"{path}: must be of type {kind}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: must be one of {', '.join(map(str, schema['enum']))}")
    if kind == "string":
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{path}: must not be empty")
        if len(value) > schema.get("maxLength", len(value)):
            problems.append(f"{path}: must be at most {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{path}: must match {schema['pattern']}")
    elif kind == "integer":
        if not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            problems.append(f"{path}: must be between {schema['minimum']} and {schema['maximum']}")
    elif kind == "array":
        low, high = schema.get("minItems", 0), schema.get("maxItems", len(value))
        if not low <= len(value) <= high:
            problems.append(f"{path}: must have {low} to {high} items, not {len(value)}")
        for index, item in enumerate(value):
            _check(schema["items"], item, f"{path}[{index}]", problems)
        keys = schema.get("x-kubernetes-list-map-keys")
        if keys and all(isinstance(item, Mapping) for item in value):
            seen = [tuple(item.get(key) for key in keys) for item in value]
            if len(set(seen)) != len(seen):
                problems.append(f"{path}: duplicate {'/'.join(keys)}")
    elif kind == "object":
        for key in schema.get("required", ()):
            if key not in value:
                problems.append(f"{path}.{key}: required")
        for key, sub_schema in schema.get("properties", {}).items():
            if key in value:
                _check(sub_schema, value[key], f"{path}.{key}", problems)
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            problems.append(f"{path}: must have at most {schema['maxProperties']} entries")
        extra_schema = schema.get("additionalProperties")
        if isinstance(extra_schema, Mapping):
            for key, item in value.items():
                _check(extra_schema, item, f"{path}.{key}", problems)


def template_problems(template: Mapping[str, Any], path: str = "template") -> list[str]:
    """What is wrong with a pod template, checked against POD_TEMPLATE_SCHEMA (empty when valid)."""
    problems: list[str] = []
    _check(POD_TEMPLATE_SCHEMA, template, path, problems)
    return problems


def containers(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The template's containers (an empty list when the template has none)."""
    spec = template.get("spec")
    found = spec.get("containers") if isinstance(spec, Mapping) else None
    return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []


def container_port_names(template: Mapping[str, Any]) -> set[str]:
    """The names of all container ports declared in the template."""
    names: set[str] = set()
    for container in containers(template):
        ports = container.get("ports")
        for port in ports if isinstance(ports, list) else []:
            if isinstance(port, Mapping) and isinstance(port.get("name"), str):
                names.add(port["name"])
    return names
