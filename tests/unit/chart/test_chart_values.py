"""values.yaml and values.schema.json: every value documented, every object closed, both in step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from tests.unit.chart.chart_helpers import CHART

VALUES_TEXT = (CHART / "values.yaml").read_text(encoding="utf-8")
VALUES: dict[str, Any] = yaml.safe_load(VALUES_TEXT)
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
# Kubernetes objects passed through as they are (the API server validates them), documented as such.
KUBERNETES_OBJECTS = {".resources", ".podSecurityContext", ".securityContext", ".affinity"}
PASSTHROUGH = {".affinity.nodeAffinity", ".affinity.podAffinity", ".affinity.podAntiAffinity"}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """The schema node, with a local $ref followed."""
    while "$ref" in node:
        target: Any = SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_objects(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema reachable from node, with its values path."""
    node = resolve(node)
    for alternative in node.get("anyOf", []):
        yield from schema_objects(alternative, path)
    if node.get("type") == "object":
        yield path, node
        for name, sub in node.get("properties", {}).items():
            yield from schema_objects(sub, f"{path}.{name}")
        if isinstance(node.get("additionalProperties"), dict):
            yield from schema_objects(node["additionalProperties"], f"{path}{{}}")
    if isinstance(node.get("items"), dict):
        yield from schema_objects(node["items"], f"{path}[]")


def test_every_object_in_the_schema_is_closed_or_a_typed_map() -> None:
    loose = [
        path
        for path, node in schema_objects(SCHEMA)
        if path not in PASSTHROUGH and node.get("additionalProperties", True) is True
    ]

    assert loose == []


def leaf_paths(node: Any, path: str = "") -> Iterator[str]:
    """Paths of the values.yaml entries (maps recurse, everything else is a leaf)."""
    if isinstance(node, dict) and node:
        for key, sub in node.items():
            yield from leaf_paths(sub, f"{path}.{key}")
    else:
        yield path


def schema_at(path: str) -> dict[str, Any]:
    node = resolve(SCHEMA)
    for part in path.strip(".").split("."):
        properties = node.get("properties", {})
        if part in properties:
            node = resolve(properties[part])
        else:
            assert isinstance(node.get("additionalProperties"), dict), f"{path} is not in the schema"
            node = resolve(node["additionalProperties"])
    return node


@pytest.mark.parametrize("path", list(leaf_paths(VALUES)))
def test_every_value_is_in_the_schema(path: str) -> None:
    schema_at(path)


def test_every_chart_setting_in_the_schema_has_a_default_in_values() -> None:
    """Kubernetes objects (resources, security contexts, affinity) keep only the fields they set."""

    def walk(node: dict[str, Any], values: Any, path: str) -> Iterator[str]:
        if path in KUBERNETES_OBJECTS:
            return
        for name, sub in resolve(node).get("properties", {}).items():
            if name not in values:
                yield f"{path}.{name}"
            elif isinstance(values[name], dict) and values[name]:
                yield from walk(sub, values[name], f"{path}.{name}")

    assert list(walk(SCHEMA, VALUES, "")) == []


def test_every_key_in_values_yaml_has_a_comment() -> None:
    """A key line is documented by the comment lines right above it (or its parent's, for the
    entries of a default list or map such as resources.requests.cpu)."""
    undocumented: list[str] = []
    lines = VALUES_TEXT.splitlines()
    parents: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        indent = len(line) - len(line.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        documented = index > 0 and lines[index - 1].strip().startswith("#")
        inherited = bool(parents) and parents[-1][1]
        nested_group = stripped.endswith(":")  # a section whose keys carry the comments
        if not (documented or inherited or nested_group):
            undocumented.append(stripped)
        parents.append((indent, documented or inherited))

    assert undocumented == []
