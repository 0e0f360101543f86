"""Recommendation builders for the autoscaling settings: the spec path, the current value, the new one.

Each returns None when the suggested value would not change the setting in the
right direction, so a rule never recommends what is already set.
"""

from __future__ import annotations

import math

from modelscaler.engine.diagnosis.model import Recommendation
from modelscaler.engine.diagnosis.text import (
    MAX_SCALE_DOWN_DELAY,
    concurrency_setting,
    delay_to_cover,
    duration_setting,
    exact_duration,
    num,
    whole_up,
)
from modelscaler.engine.types import ScalingParams

SCALE_DOWN_DELAY = "autoscaling.scaleDownDelay"
MAX_REPLICAS = "autoscaling.maxReplicas"
MIN_REPLICAS = "autoscaling.minReplicas"
CONCURRENCY_TARGET = "autoscaling.concurrencyTarget"


def longer_scale_down_delay(
    params: ScalingParams, observed: float, margin: float, reason: str, evidence: str
) -> Recommendation | None:
    """scaleDownDelay raised to cover `observed` seconds x margin (whole minutes, at most the API's 1h)."""
    suggested = delay_to_cover(observed, margin)
    if suggested <= params.scale_down_delay:
        return None
    if suggested >= MAX_SCALE_DOWN_DELAY:
        reason += f" (capped at the maximum {duration_setting(MAX_SCALE_DOWN_DELAY)})"
    return Recommendation(
        SCALE_DOWN_DELAY,
        exact_duration(params.scale_down_delay),
        duration_setting(suggested),
        reason,
        evidence,
    )


def more_max_replicas(
    params: ScalingParams, wanted: float, reason: str, evidence: str
) -> Recommendation | None:
    """maxReplicas raised to `wanted` (rounded up)."""
    suggested = whole_up(wanted)
    if suggested <= params.max_replicas:
        return None
    return Recommendation(MAX_REPLICAS, str(params.max_replicas), str(suggested), reason, evidence)


def fewer_min_replicas(
    params: ScalingParams, needed: int, reason: str, evidence: str
) -> Recommendation | None:
    """minReplicas lowered to `needed`."""
    if needed >= params.min_replicas:
        return None
    return Recommendation(MIN_REPLICAS, str(params.min_replicas), str(needed), reason, evidence)


def more_min_replicas(
    params: ScalingParams, needed: int, reason: str, evidence: str
) -> Recommendation | None:
    """minReplicas raised to `needed` (never above maxReplicas)."""
    suggested = min(needed, params.max_replicas)
    if suggested <= params.min_replicas:
        return None
    return Recommendation(MIN_REPLICAS, str(params.min_replicas), str(suggested), reason, evidence)


def concurrency_target(
    params: ScalingParams, value: float, reason: str, evidence: str
) -> Recommendation | None:
    """concurrencyTarget changed to `value` (whole requests from one up, rounded down)."""
    suggested = concurrency_setting(value) if value < params.concurrency_target else whole_up(value)
    if math.isclose(suggested, params.concurrency_target):
        return None
    return Recommendation(
        CONCURRENCY_TARGET, num(params.concurrency_target), num(suggested), reason, evidence
    )
