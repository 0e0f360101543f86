"""Generates the ModelDeployment CustomResourceDefinition from the pydantic models.

pydantic writes JSON Schema (2020-12); a CRD needs a *structural* OpenAPI v3
schema. `structural_schema` converts one into the other: `$ref`s inlined,
titles dropped, `anyOf [X, null]` turned into X (with `nullable: true` in the
status, which the operator writes), numeric `exclusiveMinimum` turned into the
OpenAPI boolean form, `const` into a one-value enum, and `additionalProperties:
false` dropped (the API server prunes or, with kubectl's strict field
validation, refuses unknown fields). Defaults are kept in the spec, so the
stored object shows every setting in force, and dropped in the status.

    modelscaler crd            # print the CRD
    modelscaler crd --write    # write crds/ and the chart's copy
    modelscaler crd --check    # exit 1 when either file is stale
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from modelscaler.api.resource import (
    API_VERSION,
    CATEGORIES,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    ModelDeployment,
)
from modelscaler.api.rules import CEL_KEY

CRD_FILE_NAME = f"{GROUP}_{PLURAL}.yaml"
CRD_PATHS = (Path("crds") / CRD_FILE_NAME, Path("charts/modelscaler/crds") / CRD_FILE_NAME)
HEADER = (
    "# Generated from the pydantic models in operator/modelscaler/api by `make crd`; do not edit by hand.\n"
)

# (name, type, JSONPath, description, priority): priority 1 shows with `kubectl get -o wide`.
PRINTER_COLUMNS: tuple[tuple[str, str, str, str, int], ...] = (
    ("Ready", "string", ".status.ready", "Ready replicas / desired replicas", 0),
    ("Concurrency", "number", ".status.concurrency.stable", "Requests in flight (stable window)", 0),
    ("Target", "number", ".spec.autoscaling.concurrencyTarget", "Concurrency one replica should carry", 0),
    ("Mode", "string", ".status.mode", "Stable, Burst, Paused or Holding", 0),
    ("Diagnosis", "string", ".status.diagnosis", "The first problem found, or Healthy", 0),
    ("Age", "date", ".metadata.creationTimestamp", "Time since creation", 0),
    ("Min", "integer", ".spec.autoscaling.minReplicas", "Fewest replicas", 1),
    ("Max", "integer", ".spec.autoscaling.maxReplicas", "Most replicas", 1),
    ("Starting", "integer", ".status.startingReplicas", "Pods not yet Ready", 1),
    ("Per-Replica", "number", ".status.concurrency.perReplica", "Concurrency per ready replica", 1),
    ("Burst", "number", ".status.concurrency.burst", "Requests in flight (burst window)", 1),
    ("P95", "number", ".status.latency.p95", "95th percentile response time, seconds", 1),
    ("Engine", "string", ".spec.serving.engine", "Model server engine", 1),
    ("Environment", "string", ".spec.environment", "Environment label", 1),
    ("Reason", "string", ".status.lastDecision.reason", "Reason of the last decision", 1),
)

_DROPPED_KEYS = ("title", "$defs")


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Overlays a field's own keywords on its resolved type; CEL rules from both are kept."""
    for key, value in extra.items():
        if key == CEL_KEY and key in target:
            target[key] = target[key] + value
        else:
            target[key] = value


def _convert(node: Any, defs: dict[str, Any], nullable: bool) -> Any:
    """Returns the structural form of one JSON Schema node (see the module docstring)."""
    if isinstance(node, list):
        return [_convert(item, defs, nullable) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        resolved = _convert(copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[-1]]), defs, nullable)
        _merge(resolved, _convert(node, defs, nullable))
        return _ordered(resolved)
    branches = node.get("anyOf")
    if isinstance(branches, list) and {"type": "null"} in branches:
        node.pop("anyOf")
        others = [b for b in branches if b != {"type": "null"}]
        if len(others) != 1:
            raise ValueError(f"cannot make a structural schema of a union of {others}")
        resolved = _convert(others[0], defs, nullable)
        _merge(resolved, _convert(node, defs, nullable))
        if nullable:
            resolved["nullable"] = True
        return _ordered(resolved)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or (key == "additionalProperties" and value is False):
            continue
        if key == "default" and (value is None or nullable):
            continue
        if key == "additionalProperties" and value is True:
            out["x-kubernetes-preserve-unknown-fields"] = True
            continue
        if key in {"exclusiveMinimum", "exclusiveMaximum"} and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        if key == "properties":
            out[key] = {name: _convert(sub, defs, nullable) for name, sub in value.items()}
            continue
        if key == "description":
            out[key] = " ".join(value.split())
            continue
        out[key] = _convert(value, defs, nullable)
    default = out.get("default")
    if "description" in out and isinstance(default, str | int | float | bool):
        # kubectl explain shows descriptions, not defaults: say it in words.
        shown = str(default).lower() if isinstance(default, bool) else default
        out["description"] += f" Defaults to {shown}."
    return _ordered(out)


_FIRST_KEYS = ("description", "type")
_LAST_KEYS = ("required", "properties", "additionalProperties", "items", CEL_KEY)


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    """Puts description and type first and the nested parts last, the rest alphabetically (stable diffs)."""
    middle = sorted(key for key in node if key not in _FIRST_KEYS + _LAST_KEYS)
    return {key: node[key] for key in (*_FIRST_KEYS, *middle, *_LAST_KEYS) if key in node}


def structural_schema() -> dict[str, Any]:
    """The ModelDeployment's openAPIV3Schema."""
    raw = ModelDeployment.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    properties = raw["properties"]
    schema: dict[str, Any] = _convert({k: v for k, v in raw.items() if k != "properties"}, defs, False)
    schema["properties"] = {
        "apiVersion": {"type": "string", "description": properties["apiVersion"]["description"]},
        "kind": {"type": "string", "description": properties["kind"]["description"]},
        "metadata": {"type": "object"},
        "spec": _convert(properties["spec"], defs, nullable=False),
        "status": _convert(properties["status"], defs, nullable=True),
    }
    # The status object itself is written whole by the operator, never null.
    schema["properties"]["status"].pop("nullable", None)
    return _ordered(schema)


def custom_resource_definition() -> dict[str, Any]:
    """The complete CRD object."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "modelscaler", "app.kubernetes.io/part-of": "modelscaler"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    # No scale subresource: the operator is the only writer of replicas.
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": name, "type": kind, "jsonPath": path, "description": text}
                        | ({"priority": priority} if priority else {})
                        for name, kind, path, text, priority in PRINTER_COLUMNS
                    ],
                    "schema": {"openAPIV3Schema": structural_schema()},
                }
            ],
        },
    }


def render() -> str:
    """The CRD as the YAML text committed under crds/."""
    body = yaml.safe_dump(custom_resource_definition(), sort_keys=False, width=110, allow_unicode=True)
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    """`modelscaler crd [--write | --check] [--root DIR]`."""
    parser = argparse.ArgumentParser(prog="modelscaler crd", description=f"The {API_VERSION} {KIND} CRD.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write " + " and ".join(map(str, CRD_PATHS)))
    action.add_argument("--check", action="store_true", help="exit 1 when a committed copy is stale")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    args = parser.parse_args(argv)
    text = render()
    if not (args.write or args.check):
        sys.stdout.write(text)
        return 0
    stale = []
    for relative in CRD_PATHS:
        path = args.root / relative
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {relative}")
        elif not path.exists() or path.read_text() != text:
            stale.append(str(relative))
    if stale:
        print(f"stale: {', '.join(stale)}; run `make crd`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
