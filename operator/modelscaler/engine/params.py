"""From the user's spec to the engine's settings: durations become seconds, counts stay counts."""

from __future__ import annotations

from modelscaler.api.durations import parse_duration
from modelscaler.api.spec import ModelDeploymentSpec
from modelscaler.engine.types import ScalingParams


def params_from_spec(spec: ModelDeploymentSpec) -> ScalingParams:
    """The ScalingParams of one ModelDeployment's spec.autoscaling."""
    autoscaling = spec.autoscaling
    return ScalingParams(
        min_replicas=autoscaling.min_replicas,
        max_replicas=autoscaling.max_replicas,
        concurrency_target=autoscaling.concurrency_target,
        target_utilization=autoscaling.target_utilization,
        stable_window=parse_duration(autoscaling.autoscaling_window),
        scale_down_delay=parse_duration(autoscaling.scale_down_delay),
        max_scale_down_rate=autoscaling.max_scale_down_rate,
        panic_window=parse_duration(autoscaling.panic_window),
        panic_threshold=autoscaling.panic_threshold,
        max_scale_up_rate=autoscaling.max_scale_up_rate,
        initial_replicas=autoscaling.initial_replicas,
        paused=autoscaling.paused,
    )
