"""KEDA ScaledObject with a Prometheus trigger, driving an HPA (External metric, AverageValue).

Source: KEDA v2.14 documentation (concepts/scaling-deployments: pollingInterval 30 s,
cooldownPeriod 300 s, "the cooldown only applies when scaling to zero; 1 <-> N is
left to the HPA"; scalers/prometheus: `threshold` is the target value per replica,
`activationThreshold` 0) and pkg/scaling/executor/scale_scaledobjects.go.

KEDA registers an External metric with target type AverageValue = threshold. The
HPA (15 s sync, default behavior, see hpa.py) asks KEDA's metrics server for the
query value at each sync and computes ceil(value / threshold), with the 0.1
tolerance taken against the current replica count. KEDA itself only acts
between 0 and 1 replica: with minReplicaCount 0 it activates a deployment at
zero when a poll (every 30 s) sees the value above activationThreshold, and
deactivates it after cooldownPeriod without activity.
"""

from __future__ import annotations

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.base import Step
from modelscaler.simulate.policies.hpa import HorizontalPodAutoscaler
from modelscaler.simulate.signals import MetricsView


class KedaPrometheus:
    """The KEDA Prometheus trigger: activation at zero by polling, the HPA above one."""

    source = "KEDA v2.14 docs (ScaledObject spec, Prometheus scaler); HPA as in hpa.py"

    def __init__(
        self,
        params: ScalingParams,
        polling_interval: float = 30.0,
        cooldown_period: float = 300.0,
        activation_threshold: float = 0.0,
        metric_window: float = 60.0,
    ) -> None:
        self.name = "keda"
        self.params = params
        self.polling_interval = polling_interval
        self.cooldown_period = cooldown_period
        self.activation_threshold = activation_threshold
        self.metric_window = metric_window
        self.hpa = HorizontalPodAutoscaler(
            params, name="keda-hpa", metric_window=metric_window, external=True
        )
        # Decisions happen on the HPA's sync; polls are every polling_interval (a multiple of it here).
        self.interval = self.hpa.interval
        self.last_active: float | None = None
        self.last_poll: float | None = None

    def decide(self, view: MetricsView) -> Step:
        """The HPA's answer at one to N; KEDA's activation and cooldown at zero."""
        value = view.concurrency(self.metric_window)
        polled = self.last_poll is None or view.now - self.last_poll >= self.polling_interval
        if polled:
            self.last_poll = view.now
            if value is not None and value > self.activation_threshold:
                self.last_active = view.now
        if self.params.min_replicas > 0:
            return self.hpa.decide(view)
        if view.current == 0:
            if polled and self.last_active == view.now:
                return Step(1, 1, "KEDAScaledObjectActivated")
            return Step(0, 0, "KEDAScaledObjectIdle")
        idle_since = self.last_active if self.last_active is not None else 0.0
        if polled and view.now - idle_since >= self.cooldown_period:
            return Step(0, 0, "KEDAScaledObjectCooldownElapsed")
        return self.hpa.decide(view)
