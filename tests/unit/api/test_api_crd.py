"""The generated CRD: in sync with crds/ and the chart, structural, documented and bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelscaler.api import crd

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("relative", crd.CRD_PATHS, ids=str)
def test_committed_crd_is_in_sync_with_the_models(relative: Path) -> None:
    path = ROOT / relative
    assert path.exists(), f"{relative} is missing: run `make crd`"
    assert path.read_text() == crd.render(), f"{relative} is stale: run `make crd` and commit the result"


def test_check_and_write_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crd.main(["--check", "--root", str(tmp_path)]) == 1
    assert "make crd" in capsys.readouterr().err
    assert crd.main(["--write", "--root", str(tmp_path)]) == 0
    assert crd.main(["--check", "--root", str(tmp_path)]) == 0
    assert crd.main([]) == 0
    assert capsys.readouterr().out.endswith(crd.render().split("\n", 1)[1])


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


@pytest.fixture(scope="module")
def version() -> dict[str, Any]:
    document = yaml.safe_load(crd.render())
    versions: list[dict[str, Any]] = document["spec"]["versions"]
    assert len(versions) == 1
    return versions[0]


@pytest.fixture(scope="module")
def schema(version: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


def test_the_schema_is_structural(schema: dict[str, Any]) -> None:
    for path, node in walk(schema):
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path} has no type"
        for key in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const"):
            assert key not in node, f"{path} has {key}"
        assert node.get("additionalProperties") is not False, path
        assert not ("properties" in node and isinstance(node.get("additionalProperties"), dict)), path
        assert not isinstance(node.get("exclusiveMinimum"), int | float) or isinstance(
            node.get("exclusiveMinimum"), bool
        ), path


def test_every_field_is_described(schema: dict[str, Any]) -> None:
    undocumented = [
        path
        for path, node in walk(schema)
        if path.count(".") >= 1
        and not path.endswith(("[]", "{}"))
        and path != ".metadata"
        and "[][]" not in path
        and not node.get("description")
    ]
    assert undocumented == []


def test_every_string_and_list_is_bounded(schema: dict[str, Any]) -> None:
    for path, node in walk(schema):
        if path in {".apiVersion", ".kind"}:
            continue  # checked by the API server itself
        if node.get("type") == "string" and "enum" not in node:
            assert "maxLength" in node, f"{path} has no maxLength"
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path} has no maxItems"
        if node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
            assert "maxProperties" in node, f"{path} has no maxProperties"


def test_numeric_bounds_are_whole_numbers(schema: dict[str, Any]) -> None:
    """kube-apiserver truncates a fractional minimum when the value is an integer, so 1 would pass 1.1."""
    for path, node in walk(schema):
        for key in ("minimum", "maximum"):
            if key in node:
                assert float(node[key]).is_integer(), f"{path}.{key} = {node[key]}"


def test_the_status_is_nullable_where_optional_and_the_spec_is_not(schema: dict[str, Any]) -> None:
    spec_nullable = [p for p, n in walk(schema["properties"]["spec"]) if n.get("nullable")]
    assert spec_nullable == []
    status = schema["properties"]["status"]["properties"]
    assert status["concurrency"]["nullable"] is True
    assert "nullable" not in status["conditions"]


def test_spec_defaults_are_stored_and_status_defaults_are_not(schema: dict[str, Any]) -> None:
    autoscaling = schema["properties"]["spec"]["properties"]["autoscaling"]
    assert autoscaling["default"]["scaleDownDelay"] == "900s"
    assert autoscaling["properties"]["minReplicas"]["default"] == 1
    assert [p for p, n in walk(schema["properties"]["status"]) if "default" in n] == []


def test_cel_rules_cover_the_cross_field_rules(schema: dict[str, Any]) -> None:
    spec = schema["properties"]["spec"]
    autoscaling_rules = [r["rule"] for r in spec["properties"]["autoscaling"]["x-kubernetes-validations"]]
    assert any("self.minReplicas <= self.maxReplicas" in r for r in autoscaling_rules)
    assert any("initialReplicas" in r for r in autoscaling_rules)
    assert any(
        "duration(self.panicWindow) <= duration(self.autoscalingWindow)" in r for r in autoscaling_rules
    )
    assert any("containers.exists" in r["rule"] for r in spec["x-kubernetes-validations"])
    for path, node in walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["message"], path
            assert "\\" not in rule["rule"], f"{path}: a backslash in a CEL string is an escape"


def test_the_template_keeps_unknown_fields(schema: dict[str, Any]) -> None:
    template = schema["properties"]["spec"]["properties"]["template"]
    assert template["x-kubernetes-preserve-unknown-fields"] is True
    containers = template["properties"]["spec"]["properties"]["containers"]
    assert containers["items"]["x-kubernetes-preserve-unknown-fields"] is True
    assert containers["x-kubernetes-list-map-keys"] == ["name"]


def test_names_subresources_and_columns(version: dict[str, Any]) -> None:
    document = yaml.safe_load(crd.render())
    names = document["spec"]["names"]
    assert (names["shortNames"], names["categories"]) == (["md"], ["modelscaler"])
    assert version["subresources"] == {"status": {}}, "no scale subresource: the operator owns replicas"
    columns = version["additionalPrinterColumns"]
    assert [c["name"] for c in columns if not c.get("priority")] == [
        "Ready",
        "Concurrency",
        "Target",
        "Mode",
        "Diagnosis",
        "Age",
    ]
    assert all(c.get("priority") == 1 for c in columns[6:])
    assert all(c["description"] for c in columns)
