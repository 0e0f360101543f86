"""Knative Serving's KPA (concurrency mode): stable and panic windows, scale-down delay.

Source: knative/serving v1.14, pkg/autoscaler/scaling/autoscaler.go (Scale) and
config/core/configmaps/autoscaler.yaml defaults: tick 2 s, stable window 60 s,
panic window 10 % of it (6 s), panic threshold 200 %, max scale-up rate 1000,
max scale-down rate 2, scale-down-delay 0 s, container-concurrency-target-percentage
70 % (our targetUtilization). The KPA reconciler then clamps to min/max scale.

Each tick: desired counts ceil(stable / target) and ceil(panic / target), each
kept within [floor(ready / max-scale-down-rate), ceil(max-scale-up-rate x ready)]
(ready counted as at least 1); panic starts when the panic count reaches the
threshold x ready, is extended while it stays there and ends a stable window
after the last time it did; in panic the count only rises. Then the scale-down
delay takes the maximum count of the last `scale_down_delay` seconds; a count of
zero (minScale 0) is applied only once it has been wanted for the
scale-to-zero grace period (30 s), the last replica staying until then. The
observed concurrency is what queue-proxies and the activator report: requests in
flight plus those buffered (queued), averaged over the window.
"""

from __future__ import annotations

import math
from collections import deque

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.base import Step, ceil_div, clamp
from modelscaler.simulate.signals import MetricsView


class KnativeKPA:
    """Knative's pod autoscaler with its documented defaults (delay 0 s unless given)."""

    source = "knative/serving v1.14 pkg/autoscaler/scaling/autoscaler.go; config-autoscaler defaults"

    def __init__(
        self,
        params: ScalingParams,
        name: str = "knative",
        scale_down_delay: float = 0.0,
        stable_window: float = 60.0,
        panic_window_percentage: float = 10.0,
        panic_threshold: float = 2.0,
        max_scale_up_rate: float = 1000.0,
        max_scale_down_rate: float = 2.0,
        scale_to_zero_grace: float = 30.0,
        interval: float = 2.0,
    ) -> None:
        self.name = name
        self.interval = interval
        self.params = params
        self.target = params.concurrency_target * params.target_utilization
        self.stable_window = stable_window
        self.panic_window = stable_window * panic_window_percentage / 100.0
        self.panic_threshold = panic_threshold
        self.max_scale_up_rate = max_scale_up_rate
        self.max_scale_down_rate = max_scale_down_rate
        self.scale_down_delay = scale_down_delay
        self.scale_to_zero_grace = scale_to_zero_grace
        self.zero_since: float | None = None
        self.panic_time: float | None = None
        self.max_panic_pods = 0
        self.delay_window: deque[tuple[float, int]] = deque()

    def decide(self, view: MetricsView) -> Step:
        """One KPA tick, then the reconciler's min/max bounds."""
        stable = view.concurrency(self.stable_window)
        panic = view.concurrency(self.panic_window)
        if stable is None or panic is None:
            return Step(view.current, None, "NoData")
        ready = max(1.0, float(view.ready))
        max_up = math.ceil(self.max_scale_up_rate * ready)
        max_down = math.floor(ready / self.max_scale_down_rate)
        stable_count = ceil_div(stable, self.target)
        panic_count = ceil_div(panic, self.target)
        desired_stable = int(min(max(stable_count, max_down), max_up))
        desired_panic = int(min(max(panic_count, max_down), max_up))
        over_threshold = panic_count / ready >= self.panic_threshold
        now = view.now
        if over_threshold:
            self.panic_time = now
        elif self.panic_time is not None and self.panic_time + self.stable_window < now:
            self.panic_time = None
            self.max_panic_pods = 0
        desired = desired_stable
        reason = "Stable"
        if self.panic_time is not None:
            desired = max(desired, desired_panic)
            self.max_panic_pods = max(self.max_panic_pods, desired)
            desired = self.max_panic_pods
            reason = "Panic"
        if self.scale_down_delay > 0:
            desired = self._delayed(now, desired)
        desired = clamp(desired, self.params)
        if desired == 0:
            self.zero_since = now if self.zero_since is None else self.zero_since
            if view.current > 0 and now - self.zero_since < self.scale_to_zero_grace:
                return Step(1, stable_count, "ScaleToZeroGrace")
        else:
            self.zero_since = None
        return Step(desired, stable_count, reason)

    def _delayed(self, now: float, count: int) -> int:
        """The maximum count recorded over the last scale_down_delay seconds (a monotone deque)."""
        window = self.delay_window
        while window and window[0][0] <= now - self.scale_down_delay:
            window.popleft()
        while window and window[-1][1] <= count:
            window.pop()
        window.append((now, count))
        return window[0][1]
