"""The shape every simulated policy has, and the settings all of them share.

A policy is a small stateful object: the replay calls `decide(view)` every
`interval` seconds of trace time and applies the returned count (replicas start
and take a cold start to become Ready). Policies hold their own memory between
calls, as the real controllers do in process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.signals import MetricsView


@dataclass(frozen=True, slots=True)
class Step:
    """One decision: the count to apply, the count wanted before limits, and why."""

    desired: int
    wanted: int | None = None
    reason: str = ""


class Policy(Protocol):
    """A replica-count policy under replay."""

    name: str
    interval: float  # seconds between decisions
    source: str  # the documentation or code the implementation follows, with its version

    def decide(self, view: MetricsView) -> Step:
        """The replica count to run from now on."""
        ...


def per_replica_target(params: ScalingParams) -> float:
    """The per-replica concurrency every policy aims at: concurrencyTarget x targetUtilization.

    Peers without a utilization knob (HPA, KEDA, Ray Serve) get this as their
    target value, so that all of them aim at the same load per replica.
    """
    return params.concurrency_target * params.target_utilization


def clamp(count: int, params: ScalingParams) -> int:
    """The count within [minReplicas, maxReplicas]."""
    return max(params.min_replicas, min(params.max_replicas, count))


def ceil_div(value: float, per_replica: float) -> int:
    """ceil(value / per_replica), robust to float noise just above an integer."""
    return math.ceil(value / per_replica - 1e-9)
