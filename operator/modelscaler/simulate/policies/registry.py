"""The policies by name, each built from the same ScalingParams (same target, min and max)."""

from __future__ import annotations

from collections.abc import Callable

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.base import Policy
from modelscaler.simulate.policies.baseten import Baseten
from modelscaler.simulate.policies.hpa import HorizontalPodAutoscaler
from modelscaler.simulate.policies.keda import KedaPrometheus
from modelscaler.simulate.policies.knative import KnativeKPA
from modelscaler.simulate.policies.modelscaler import Modelscaler
from modelscaler.simulate.policies.ray import RayServe

POLICY_FACTORIES: dict[str, Callable[[ScalingParams], Policy]] = {
    "modelscaler": lambda params: Modelscaler(params),
    "modelscaler-queue": lambda params: Modelscaler(params, arrival_sizing=False, name="modelscaler-queue"),
    "hpa": lambda params: HorizontalPodAutoscaler(params),
    "keda": lambda params: KedaPrometheus(params),
    "knative": lambda params: KnativeKPA(params),
    "knative-delay": lambda params: KnativeKPA(
        params, name="knative-delay", scale_down_delay=params.scale_down_delay
    ),
    "ray": lambda params: RayServe(params),
    "baseten": lambda params: Baseten(params),
}

# What `modelscaler simulate` runs without --policy.
DEFAULT_POLICIES = ("modelscaler", "hpa", "keda", "knative", "ray", "baseten")


def build_policy(name: str, params: ScalingParams) -> Policy:
    """A fresh policy by name; ValueError names the known ones."""
    try:
        factory = POLICY_FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICY_FACTORIES)}") from None
    return factory(params)
