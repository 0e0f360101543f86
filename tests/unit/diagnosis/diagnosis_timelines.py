"""Builders of synthetic timelines for the diagnosis tests: phases of ticks, read like a story.

    timeline = Timeline(max_replicas=5).phase(600, desired=3, concurrency=6.0, latency_p95=0.8)
    timeline.phase(300, desired=5, wanted_replicas=9, latency_p95=lambda t: 2.5 + t / 100)

Each phase appends one Sample per tick; a field may be a constant or a function of
the seconds elapsed in the phase. A change of desired_replicas between ticks records
a ScaleEvent, as the engine would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from modelscaler.engine.diagnosis import DiagnosisInput, DiagnosisParams, DiagnosisState, Finding, diagnose
from modelscaler.engine.diagnosis.model import ConditionType
from modelscaler.engine.history import PodStart, RestartEvent, Sample, ScaleEvent
from modelscaler.engine.types import ScalingParams

T0 = 1_800_000_000.0  # any clock origin works: the rules only read differences
TICK = 15.0

SAMPLE_FIELDS = {f.name for f in fields(Sample)}

Value = float | int | bool | None | Callable[[float], Any]


@dataclass
class Timeline:
    """A growing history of one deployment."""

    min_replicas: int = 1
    max_replicas: int = 10
    tick: float = TICK
    now: float = T0
    samples: list[Sample] = field(default_factory=list)
    scale_events: list[ScaleEvent] = field(default_factory=list)
    restarts: list[RestartEvent] = field(default_factory=list)
    pod_starts: list[PodStart] = field(default_factory=list)

    def phase(self, seconds: float, desired: Value, **values: Value) -> Timeline:
        """Appends ticks for `seconds`; ready defaults to desired minus starting."""
        unknown = set(values) - SAMPLE_FIELDS
        assert not unknown, f"not Sample fields: {unknown}"
        ticks = max(1, round(seconds / self.tick))
        for index in range(ticks):
            elapsed = index * self.tick
            self.now += self.tick
            row: dict[str, Any] = {
                name: value(elapsed) if callable(value) else value for name, value in values.items()
            }
            want = int(desired(elapsed)) if callable(desired) else int(desired or 0)
            row.setdefault("starting_replicas", 0)
            row.setdefault("ready_replicas", max(want - int(row["starting_replicas"]), 0))
            row.setdefault("min_replicas", self.min_replicas)
            row.setdefault("max_replicas", self.max_replicas)
            sample = Sample(time=self.now, desired_replicas=want, **row)
            if self.samples and self.samples[-1].desired_replicas != want:
                self.scale_events.append(ScaleEvent(self.now, self.samples[-1].desired_replicas, want))
            self.samples.append(sample)
        return self

    def restart(self, after: float, pod: str, **values: Any) -> Timeline:
        """Records a container restart `after` seconds before now (a negative offset looks back)."""
        values.setdefault("container", "model")
        values.setdefault("reason", "Error")
        self.restarts.append(RestartEvent(time=self.now + after, pod=pod, **values))
        return self

    def pod_start(self, pod: str, seconds_to_ready: float, ago: float = 0.0) -> Timeline:
        """Records a pod that became Ready `ago` seconds before now."""
        self.pod_starts.append(PodStart(self.now - ago, pod, seconds_to_ready))
        return self

    def history(self, **facts: Any) -> DiagnosisInput:
        """The DiagnosisInput of everything recorded so far."""
        return DiagnosisInput(
            samples=tuple(self.samples),
            scale_events=tuple(self.scale_events),
            restarts=tuple(self.restarts),
            pod_starts=tuple(self.pod_starts),
            **facts,
        )


def scaling(**overrides: Any) -> ScalingParams:
    """The tests' settings: min 1, max 10, target 4 x utilization 0.75 = capacity 3, delay 5 min."""
    settings: dict[str, Any] = {
        "min_replicas": 1,
        "max_replicas": 10,
        "concurrency_target": 4.0,
        "target_utilization": 0.75,
        "scale_down_delay": 300.0,
    }
    settings.update(overrides)
    return ScalingParams(**settings)


def finding_of(
    timeline: Timeline,
    kind: ConditionType,
    params: ScalingParams | None = None,
    dparams: DiagnosisParams | None = None,
    **facts: Any,
) -> Finding:
    """Runs diagnose() once at the timeline's now and returns the finding of one condition type."""
    findings, _ = diagnose(
        timeline.history(**facts),
        params or scaling(max_replicas=timeline.max_replicas, min_replicas=timeline.min_replicas),
        dparams or DiagnosisParams(),
        DiagnosisState(),
        timeline.now,
    )
    return next(f for f in findings if f.type is kind)


def oscillating(
    timeline: Timeline, cycles: int, period: float, low: int, high: int, **values: Value
) -> Timeline:
    """Square-wave replicas: `cycles` times high for half the period, then low for the other half."""
    for _ in range(cycles):
        timeline.phase(period / 2, desired=high, **values)
        timeline.phase(period / 2, desired=low, **values)
    return timeline
