"""params_from_spec: the spec's autoscaling settings in engine units."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.unit.api.manifests import base_manifest

from modelscaler.api.spec import AutoscalingSpec, ModelDeploymentSpec
from modelscaler.engine.params import params_from_spec
from modelscaler.engine.types import ScalingParams

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def spec_with(**autoscaling: object) -> ModelDeploymentSpec:
    spec = base_manifest()["spec"]
    spec["autoscaling"] = autoscaling
    return ModelDeploymentSpec.model_validate(spec)


def test_defaults_match_the_engine_defaults() -> None:
    """The brief's defaults live in two places (the API and the engine); they must agree."""
    params = params_from_spec(spec_with())
    engine_defaults = ScalingParams()
    for name in AutoscalingSpec.model_fields:
        engine_name = "stable_window" if name == "autoscaling_window" else name
        assert getattr(params, engine_name) == getattr(engine_defaults, engine_name), name


def test_durations_become_seconds_and_counts_pass_through() -> None:
    params = params_from_spec(
        spec_with(
            minReplicas=2,
            maxReplicas=9,
            initialReplicas=3,
            concurrencyTarget=16,
            targetUtilization=0.8,
            autoscalingWindow="1m30s",
            scaleDownDelay="0.5h",
            panicWindow="2500ms",
            maxScaleDownRate=0.25,
            maxScaleUpRate=2,
            panicThreshold=3,
            paused=True,
        )
    )
    assert (params.min_replicas, params.max_replicas, params.initial_replicas) == (2, 9, 3)
    assert (params.stable_window, params.scale_down_delay, params.panic_window) == (90.0, 1800.0, 2.5)
    assert (params.concurrency_target, params.target_utilization) == (16.0, 0.8)
    assert params.capacity == pytest.approx(12.8)
    assert (params.max_scale_down_rate, params.max_scale_up_rate, params.panic_threshold) == (0.25, 2.0, 3.0)
    assert params.paused is True


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_converts(example: Path) -> None:
    spec = ModelDeploymentSpec.model_validate(yaml.safe_load(example.read_text())["spec"])
    params = params_from_spec(spec)
    assert params.min_replicas <= params.max_replicas
    assert 0 < params.panic_window <= params.stable_window
