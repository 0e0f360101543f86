"""Ray Serve's default autoscaling policy (replica queue length).

Source: ray-project/ray 2.x, python/ray/serve/autoscaling_policy.py
(replica_queue_length_autoscaling_policy, _apply_scaling_factors,
_apply_delay_logic) and the AutoscalingConfig defaults in python/ray/serve/config.py:
target_ongoing_requests 2 (here: the shared per-replica target),
upscale_delay_s 30, downscale_delay_s 600, look_back_period_s 30,
metrics_interval_s 10, upscaling/downscaling factors 1, control loop 0.1 s.

Ongoing requests (queued at handles + running at replicas) are averaged over the
look-back period and reported every metrics interval. Desired replicas =
total ongoing / target; a change is applied only after the same direction was
decided on every control-loop tick for the delay (a counter reset on any other
decision). At zero running replicas a request starts one at once.
"""

from __future__ import annotations

import math

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.base import Step, clamp, per_replica_target
from modelscaler.simulate.signals import MetricsView


class RayServe:
    """Ray Serve's default policy; the control loop runs every `interval` seconds (1 s here)."""

    source = "ray-project/ray 2.x python/ray/serve/autoscaling_policy.py; AutoscalingConfig defaults"

    def __init__(
        self,
        params: ScalingParams,
        upscale_delay: float = 30.0,
        downscale_delay: float = 600.0,
        look_back_period: float = 30.0,
        metrics_interval: float = 10.0,
        upscaling_factor: float = 1.0,
        downscaling_factor: float = 1.0,
        interval: float = 1.0,
    ) -> None:
        self.name = "ray"
        self.interval = interval
        self.params = params
        self.target = per_replica_target(params)
        self.upscale_delay = upscale_delay
        self.downscale_delay = downscale_delay
        self.look_back_period = look_back_period
        self.metrics_interval = metrics_interval
        self.upscaling_factor = upscaling_factor
        self.downscaling_factor = downscaling_factor
        self.decision_counter = 0
        self.target_replicas: int | None = None

    def decide(self, view: MetricsView) -> Step:
        """One control-loop tick."""
        if self.target_replicas is None:
            self.target_replicas = view.current
        reported_at = math.floor(view.now / self.metrics_interval) * self.metrics_interval
        ongoing = view.concurrency(self.look_back_period, at=reported_at)
        if ongoing is None:
            return Step(self.target_replicas, None, "NoMetrics")
        running = view.ready
        if running == 0:
            if ongoing > 0:
                self.target_replicas = max(1, self.target_replicas)
            return Step(self.target_replicas, self.target_replicas, "ColdStart")
        wanted = ongoing / self.target
        scaled = self._apply_factors(wanted, running)
        bounded = clamp(scaled, self.params)
        self.target_replicas = self._apply_delay(bounded, self.target_replicas)
        return Step(self.target_replicas, math.ceil(wanted - 1e-9), "Delay")

    def _apply_factors(self, wanted: float, running: int) -> int:
        delta = wanted - running
        factor = self.upscaling_factor if delta > 0 else self.downscaling_factor
        scaled = math.ceil(running + factor * delta)
        if math.ceil(wanted) < running and scaled == running:
            scaled -= 1
        return scaled

    def _apply_delay(self, desired: int, target: int) -> int:
        if desired > target:
            self.decision_counter = max(self.decision_counter, 0) + 1
            if self.decision_counter > int(self.upscale_delay / self.interval):
                self.decision_counter = 0
                return desired
        elif desired < target:
            self.decision_counter = min(self.decision_counter, 0) - 1
            if self.decision_counter < -int(self.downscale_delay / self.interval):
                self.decision_counter = 0
                return max(1, desired) if target > 1 else desired
        else:
            self.decision_counter = 0
        return target
