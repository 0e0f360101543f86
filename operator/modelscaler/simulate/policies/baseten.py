"""Baseten's documented autoscaler.

Source: docs.baseten.co/deploy/autoscaling and /deployment/manage/scaling (2025):
settings autoscaling window (60 s), scale-down delay (900 s), concurrency target,
target utilization (70 %), max scale down rate ("the largest percentage of active
replicas the autoscaler removes in a single scale-down step"). "When the average
requests per active replica exceeds concurrency target x target utilization
within the autoscaling window, more replicas are created"; "when traffic drops,
excess replicas are flagged for removal; if traffic returns before the delay
ends, replicas remain active."

Here: wanted = ceil(average concurrency over the window / (target x utilization));
up at once; a lower wanted count flags the excess, the flag is cleared whenever
wanted reaches the current count again, and once the delay has passed one step
removes at most max-scale-down-rate of the active replicas (at least one) towards
the count wanted now; the next step waits another delay. The decision interval
is not documented; 5 s is assumed.
"""

from __future__ import annotations

import math

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.base import Step, ceil_div, clamp
from modelscaler.simulate.signals import MetricsView


class Baseten:
    """Baseten's autoscaler as its documentation describes it, with the spec's settings."""

    source = "docs.baseten.co/deploy/autoscaling (2025)"

    def __init__(self, params: ScalingParams, interval: float = 5.0) -> None:
        self.name = "baseten"
        self.interval = interval
        self.params = params
        self.flagged_since: float | None = None

    def decide(self, view: MetricsView) -> Step:
        """Up at once, down one rate-limited step per elapsed delay."""
        current = view.current
        average = view.concurrency(self.params.stable_window)
        if average is None:
            return Step(current, None, "NoData")
        wanted = clamp(ceil_div(average, self.params.capacity), self.params)
        if wanted >= current:
            self.flagged_since = None
            return Step(wanted, wanted, "ScaleUp" if wanted > current else "Steady")
        if self.flagged_since is None:
            self.flagged_since = view.now
        if view.now - self.flagged_since < self.params.scale_down_delay:
            return Step(current, wanted, "ScaleDownDelay")
        step = max(1, math.floor(self.params.max_scale_down_rate * max(view.ready, 1)))
        self.flagged_since = view.now
        return Step(max(wanted, current - step), wanted, "ScaleDown")
