"""The pydantic models: wire names, defaults, round trips, and the rules shared with the CRD."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.unit.api.manifests import MALFORMED, Malformed, base_manifest, broken_manifests, valid_manifests

from modelscaler.api import (
    AutoscalingSpec,
    ModelDeployment,
    ModelDeploymentSpec,
    ModelDeploymentStatus,
    ScaleDownMemory,
)
from modelscaler.engine.types import Memory, WindowPoint

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))


def contains(big: Any, small: Any) -> bool:
    """Whether every key and value of `small` is in `big` (numbers compared by value)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and contains(big[k], v) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(big) == len(small) and all(map(contains, big, small))
    return bool(big == small)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_round_trip_yaml_model_yaml(example: Path) -> None:
    written = yaml.safe_load(example.read_text())
    model = ModelDeployment.model_validate(written)
    again = yaml.safe_load(yaml.safe_dump(model.to_wire()))
    assert contains(again, written), "the model lost or changed something the user wrote"
    assert ModelDeployment.model_validate(again) == model


def test_the_pod_template_is_kept_verbatim() -> None:
    manifest = base_manifest()
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"nvidia.com/gpu": 1}}
    container["ports"][0]["someFutureField"] = {"x": [1, 2]}
    manifest["spec"]["template"]["spec"]["tolerations"] = [{"key": "gpu", "operator": "Exists"}]
    model = ModelDeployment.model_validate(manifest)
    assert model.to_wire()["spec"]["template"] == manifest["spec"]["template"]


def test_defaults_are_the_briefs() -> None:
    spec = ModelDeploymentSpec.model_validate({"template": base_manifest()["spec"]["template"]})
    assert spec.autoscaling.model_dump() == {
        "min_replicas": 1,
        "max_replicas": 1,
        "initial_replicas": None,
        "concurrency_target": 1.0,
        "target_utilization": 0.7,
        "autoscaling_window": "60s",
        "scale_down_delay": "900s",
        "max_scale_down_rate": 0.5,
        "max_scale_up_rate": 1000.0,
        "panic_window": "6s",
        "panic_threshold": 2.0,
        "paused": False,
    }
    assert (spec.serving.port, spec.serving.engine, spec.serving.metrics_path) == ("http", "auto", "/metrics")
    assert (spec.diagnosis.latency_objective.percentile, spec.diagnosis.latency_objective.seconds) == (
        95,
        2.0,
    )
    assert spec.diagnosis.restart_threshold == 3
    assert spec.environment is None
    assert spec.metrics.concurrency is None


def test_python_names_are_snake_case_and_wire_names_camel_case() -> None:
    spec = AutoscalingSpec(min_replicas=2, max_replicas=4, scale_down_delay="5m")
    wire = spec.to_wire()
    assert wire["minReplicas"] == 2
    assert wire["scaleDownDelay"] == "5m"
    assert AutoscalingSpec.model_validate(wire) == spec


def test_from_object_reads_any_mapping() -> None:
    proxy = types.MappingProxyType(
        {**base_manifest(), "spec": types.MappingProxyType(base_manifest()["spec"])}
    )
    assert ModelDeployment.from_object(proxy) == ModelDeployment.model_validate(base_manifest())
    assert ModelDeployment.model_validate(proxy) == ModelDeployment.model_validate(base_manifest())


def test_port_keeps_its_kind() -> None:
    named = ModelDeploymentSpec.model_validate(base_manifest()["spec"])
    numbered = ModelDeploymentSpec.model_validate({**base_manifest()["spec"], "serving": {"port": 8080}})
    assert (named.serving.port, numbered.serving.port) == ("http", 8080)


@pytest.mark.parametrize("case", MALFORMED, ids=lambda c: c.case_id)
def test_pydantic_refuses_every_malformed_manifest(case: Malformed) -> None:
    with pytest.raises(ValidationError) as refused:
        ModelDeployment.model_validate(case.manifest())
    assert case.field in str(refused.value)


def test_the_malformed_table_is_large_and_distinct() -> None:
    assert len(MALFORMED) >= 40
    assert len({c.case_id for c in MALFORMED}) == len(MALFORMED)


@settings(max_examples=200)
@given(valid_manifests())
def test_specs_built_from_the_rules_are_accepted(manifest: dict[str, Any]) -> None:
    ModelDeployment.model_validate(manifest)


@settings(max_examples=200)
@given(broken_manifests())
def test_specs_breaking_one_rule_are_refused(broken: tuple[str, dict[str, Any]]) -> None:
    _, manifest = broken
    with pytest.raises(ValidationError):
        ModelDeployment.model_validate(manifest)


@given(
    st.lists(st.tuples(st.floats(0, 2e9, allow_nan=False), st.integers(0, 10000)), max_size=50),
    st.none() | st.floats(0, 2e9),
    st.none() | st.floats(0, 2e9),
)
def test_the_engine_memory_survives_the_status_model(
    points: list[tuple[float, int]], burst_since: float | None, last_scale: float | None
) -> None:
    memory = Memory(
        window=tuple(WindowPoint(t, wanted) for t, wanted in points),
        burst_mode_since=burst_since,
        last_scale_time=last_scale,
    )
    wire = ScaleDownMemory.model_validate(memory.to_dict()).to_wire()
    assert wire == memory.to_dict()
    assert Memory.from_dict(wire) == Memory.from_dict(memory.to_dict())


def test_status_derives_ready_and_ignores_unknown_fields() -> None:
    status = ModelDeploymentStatus.model_validate(
        {"readyReplicas": 2, "desiredReplicas": 3, "fieldFromANewerOperator": 1, "mode": "Burst"}
    )
    assert status.ready == "2/3"
    assert "fieldFromANewerOperator" not in status.to_wire()


def test_status_refuses_what_the_schema_refuses() -> None:
    with pytest.raises(ValidationError):
        ModelDeploymentStatus.model_validate({"mode": "Panicking"})
    with pytest.raises(ValidationError):
        ModelDeploymentStatus.model_validate(
            {"history": [{"time": "t", "from": 1, "to": 2, "reason": "Up"}] * 21}
        )


def test_decision_and_history_use_from_and_to_on_the_wire() -> None:
    status = ModelDeploymentStatus.model_validate(
        {
            "lastDecision": {
                "time": "2025-11-30T06:00:00Z",
                "from": 2,
                "to": 5,
                "reason": "ScaleUp",
                "inputs": {"stableConcurrency": 4.2},
            }
        }
    )
    assert status.last_decision is not None
    assert (status.last_decision.from_replicas, status.last_decision.to_replicas) == (2, 5)
    assert status.to_wire()["lastDecision"]["from"] == 2
