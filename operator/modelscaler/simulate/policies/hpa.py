"""Kubernetes HorizontalPodAutoscaler (autoscaling/v2) on a per-pod concurrency metric.

Source: kubernetes/kubernetes v1.30, pkg/controller/podautoscaler/horizontal.go
(normalizeDesiredReplicasWithBehaviors, stabilizeRecommendationWithBehaviors,
calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors) and
replica_calculator.go (GetMetricReplicas / GetExternalPerPodMetricReplicas), and
the defaults of pkg/apis/autoscaling/v2/defaults.go:

- sync period 15 s (kube-controller-manager --horizontal-pod-autoscaler-sync-period),
  tolerance 0.1;
- scaleUp: no stabilization, policies {100 % per 15 s, 4 pods per 15 s}, selectPolicy Max;
- scaleDown: 300 s stabilization (the highest recommendation of the last 300 s),
  policy 100 % per 15 s.
(The API reference's prose says "per 60 seconds" for scale-up; the code's defaults say 15 s.)

Metric: a Pods metric "concurrency" (in service + queued, averaged over
`metric_window`, what a Prometheus adapter query over the model server's
running+waiting series returns) against a target average value per pod. Pods
that are still starting report no metric: on a scale-up they count as 0 load, on
a scale-down as exactly at target, and the tolerance check is redone with them,
as replica_calculator does. The External variant (used by KEDA) divides the
query's total by the target per current replica instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.base import Step, clamp, per_replica_target
from modelscaler.simulate.signals import MetricsView


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """One HPA scaling policy: `value` pods or percent per `period` seconds."""

    kind: str  # "Pods" | "Percent"
    value: float
    period: float


@dataclass(frozen=True, slots=True)
class Behavior:
    """spec.behavior with the Kubernetes defaults (selectPolicy Max in both directions)."""

    scale_up_stabilization: float = 0.0
    scale_up_policies: tuple[ScalingPolicy, ...] = (
        ScalingPolicy("Percent", 100, 15),
        ScalingPolicy("Pods", 4, 15),
    )
    scale_down_stabilization: float = 300.0
    scale_down_policies: tuple[ScalingPolicy, ...] = (ScalingPolicy("Percent", 100, 15),)


@dataclass(slots=True)
class BehaviorState:
    """What the controller remembers: past recommendations and past scale changes."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_ups: list[tuple[float, int]] = field(default_factory=list)
    scale_downs: list[tuple[float, int]] = field(default_factory=list)


def stabilize(state: BehaviorState, behavior: Behavior, now: float, current: int, recommended: int) -> int:
    """The stabilized count: at least the up-window's minimum, at most the down-window's maximum.

    Records `recommended` for later calls.
    """
    up_cutoff = now - behavior.scale_up_stabilization
    down_cutoff = now - behavior.scale_down_stabilization
    up_recommendation = down_recommendation = recommended
    for time, value in state.recommendations:
        if time > up_cutoff:
            up_recommendation = min(up_recommendation, value)
        if time > down_cutoff:
            down_recommendation = max(down_recommendation, value)
    keep_after = min(up_cutoff, down_cutoff)
    state.recommendations = [(t, v) for t, v in state.recommendations if t > keep_after]
    state.recommendations.append((now, recommended))
    result = current
    result = max(result, up_recommendation)
    return min(result, down_recommendation)


def rate_limit(state: BehaviorState, behavior: Behavior, now: float, current: int, desired: int) -> int:
    """`desired` limited by the scaling policies (selectPolicy Max), recording the change made."""
    if desired > current:
        longest = max(policy.period for policy in behavior.scale_up_policies)
        state.scale_ups = [(t, n) for t, n in state.scale_ups if t > now - longest]
        limits = []
        for policy in behavior.scale_up_policies:
            added = sum(n for t, n in state.scale_ups if t > now - policy.period)
            period_start = current - added
            if policy.kind == "Pods":
                limits.append(period_start + int(policy.value))
            else:
                limits.append(math.ceil(period_start * (1 + policy.value / 100.0)))
        limited = min(desired, max(limits))
        if limited > current:
            state.scale_ups.append((now, limited - current))
        return limited
    if desired < current:
        longest = max(policy.period for policy in behavior.scale_down_policies)
        state.scale_downs = [(t, n) for t, n in state.scale_downs if t > now - longest]
        floors = []
        for policy in behavior.scale_down_policies:
            removed = sum(n for t, n in state.scale_downs if t > now - policy.period)
            period_start = current + removed
            if policy.kind == "Pods":
                floors.append(period_start - int(policy.value))
            else:
                floors.append(int(period_start * (1 - policy.value / 100.0)))
        limited = max(desired, min(floors))
        if limited < current:
            state.scale_downs.append((now, current - limited))
        return limited
    return desired


class HorizontalPodAutoscaler:
    """The HPA with default behavior, on a Pods (or External, for KEDA) concurrency metric."""

    source = (
        "kubernetes v1.30 pkg/controller/podautoscaler/{horizontal,replica_calculator}.go; "
        "defaults from pkg/apis/autoscaling/v2/defaults.go"
    )

    def __init__(
        self,
        params: ScalingParams,
        name: str = "hpa",
        interval: float = 15.0,
        tolerance: float = 0.1,
        metric_window: float = 60.0,
        behavior: Behavior | None = None,
        external: bool = False,
    ) -> None:
        self.name = name
        self.interval = interval
        self.params = params
        self.tolerance = tolerance
        self.metric_window = metric_window
        self.behavior = behavior or Behavior()
        self.external = external
        self.target = per_replica_target(params)
        self.state = BehaviorState()

    def recommend(self, total: float, ready: int, starting: int, current: int) -> int:
        """The replica calculator's answer before behaviors (tolerance and missing pods applied)."""
        if self.external:
            ratio = total / (self.target * max(current, 1))
            if abs(ratio - 1.0) <= self.tolerance:
                return current
            return math.ceil(total / self.target)
        if ready == 0:
            return current  # no pod reports the metric: the HPA cannot compute a ratio
        ratio = total / (self.target * ready)
        if starting == 0:
            if abs(ratio - 1.0) <= self.tolerance:
                return current
            return math.ceil(ratio * ready)
        # Starting pods report nothing: 0 load on a scale-up, exactly at target on a scale-down.
        assumed = total + (starting * self.target if ratio < 1.0 else 0.0)
        new_ratio = assumed / (self.target * (ready + starting))
        reverses = (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio)
        if abs(new_ratio - 1.0) <= self.tolerance or reverses:
            return current
        proposed = math.ceil(new_ratio * (ready + starting))
        if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
            return current
        return proposed

    def decide(self, view: MetricsView) -> Step:
        """One sync: compute, stabilize, rate-limit, clamp."""
        current = view.current
        total = view.concurrency(self.metric_window)
        if total is None:
            return Step(current, None, "FailedGetPodsMetric")
        recommended = self.recommend(total, view.ready, view.starting, current)
        floor = max(1, self.params.min_replicas)
        stabilized = stabilize(self.state, self.behavior, view.now, current, recommended)
        limited = rate_limit(self.state, self.behavior, view.now, current, stabilized)
        desired = max(floor, clamp(limited, self.params))
        reason = (
            "ScaleUpLimit"
            if limited < stabilized
            else "ScaleDownStabilized"
            if stabilized > recommended
            else ""
        )
        return Step(desired, recommended, reason or "SucceededRescale")
