"""Closed loop: a recommendation, applied to the engine, clears the condition that made it.

The what-if simulator's queueing model replays a synthetic load through the real
engine (decide()); diagnose() reads the replay's timeline, as it does in the
operator. The recommended setting is then applied and the replay run again.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from modelscaler.api.durations import parse_duration
from modelscaler.engine.diagnosis import (
    ConditionType,
    DiagnosisInput,
    DiagnosisParams,
    DiagnosisState,
    Finding,
    diagnose,
)
from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.modelscaler import Modelscaler
from modelscaler.simulate.replay import ClusterModel, replay
from modelscaler.simulate.traces import Request

SERVICE_SECONDS = 0.5


def square_wave_load(
    cycles: int, period: float, busy: float, high_rate: float, low_rate: float
) -> list[Request]:
    """Evenly spaced requests: `busy` seconds at high_rate, the rest of each period at low_rate."""
    requests: list[Request] = []
    for cycle in range(cycles):
        start = cycle * period
        for begin, length, rate in ((start, busy, high_rate), (start + busy, period - busy, low_rate)):
            count = round(length * rate)
            requests.extend(Request(begin + index / rate, SERVICE_SECONDS) for index in range(count))
    return requests


def steady_load(*phases: tuple[float, float]) -> list[Request]:
    """Evenly spaced requests, phase after phase of (seconds, requests per second)."""
    requests: list[Request] = []
    start = 0.0
    for length, rate in phases:
        requests.extend(
            Request(start + index / rate, SERVICE_SECONDS) for index in range(round(length * rate))
        )
        start += length
    return requests


def applied(
    params: ScalingParams, findings: list[Finding], kind: ConditionType, setting: str
) -> ScalingParams:
    """The settings with the value that the finding of `kind` recommends for `setting`."""
    finding = next(f for f in findings if f.type is kind)
    assert finding.is_problem, finding.message
    (recommendation,) = [r for r in finding.recommendations if r.setting == setting]
    if setting == "autoscaling.maxReplicas":
        return replace(params, max_replicas=int(recommendation.suggested))
    assert setting == "autoscaling.concurrencyTarget"
    return replace(params, concurrency_target=float(recommendation.suggested))


def diagnosed(params: ScalingParams, requests: list[Request]) -> list[Finding]:
    """Replays the load under the engine with `params` and diagnoses the whole timeline at its end."""
    model = ClusterModel(
        replica_capacity=2,
        cold_start=20.0,
        initial_replicas=1,
        min_replicas=params.min_replicas,
        max_replicas=params.max_replicas,
        stable_window=params.stable_window,
        sample_interval=10.0,
    )
    result = replay(requests, Modelscaler(params), model)
    history = DiagnosisInput(samples=tuple(result.samples), scale_events=tuple(result.scale_events))
    now = result.samples[-1].time
    findings, _ = diagnose(
        history, params, DiagnosisParams(latency_objective_seconds=2.0), DiagnosisState(), now
    )
    return findings


# 8 cycles of 5 min: 2 min at 20 req/s (10 in flight: 7 replicas), 3 min at 2 req/s (1 replica).
OSCILLATING_LOAD = square_wave_load(cycles=8, period=300, busy=120, high_rate=20, low_rate=2)
SHORT_DELAY = ScalingParams(
    min_replicas=1,
    max_replicas=20,
    concurrency_target=2.0,
    target_utilization=0.75,
    stable_window=30.0,
    scale_down_delay=60.0,
)


@pytest.mark.parametrize("raised_by", [ConditionType.THRASHING, ConditionType.SCALE_DOWN_TOO_FAST])
def test_applying_the_recommended_scale_down_delay_stops_the_oscillation(raised_by: ConditionType) -> None:
    before = diagnosed(SHORT_DELAY, OSCILLATING_LOAD)

    finding = next(f for f in before if f.type is raised_by)
    assert finding.is_problem
    (delay,) = [r for r in finding.recommendations if r.setting == "autoscaling.scaleDownDelay"]
    assert delay.current == "1m"
    # The 3 min low phase must be covered (the demand drops one stable window before it shows).
    suggested = parse_duration(delay.suggested)
    assert 180 < suggested <= 600

    after = diagnosed(replace(SHORT_DELAY, scale_down_delay=suggested), OSCILLATING_LOAD)

    still = {f.type for f in after if f.is_problem}
    assert ConditionType.THRASHING not in still
    assert ConditionType.SCALE_DOWN_TOO_FAST not in still


def test_the_oscillation_shows_in_latency() -> None:
    thrashing = next(f for f in diagnosed(SHORT_DELAY, OSCILLATING_LOAD) if f.type is ConditionType.THRASHING)

    assert re.search(r"p95 rose from [0-9.]+ s to [0-9.]+ s within 30 s of [1-9]", thrashing.message)


def test_raising_max_replicas_to_the_wanted_count_clears_capacity_exhausted() -> None:
    # 10 in flight need 7 replicas of capacity 1.5; max 4 (8 slots) cannot keep up.
    load = steady_load((900, 20))
    too_few = replace(SHORT_DELAY, max_replicas=4, scale_down_delay=300.0)

    before = diagnosed(too_few, load)
    fixed = applied(too_few, before, ConditionType.CAPACITY_EXHAUSTED, "autoscaling.maxReplicas")

    assert fixed.max_replicas == 7
    assert ConditionType.CAPACITY_EXHAUSTED not in {f.type for f in diagnosed(fixed, load) if f.is_problem}


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(steady_load((600, 3), (600, 20)), id="met-the-objective-at-light-load"),
        pytest.param(steady_load((600, 20)), id="never-met-the-objective"),
    ],
)
def test_lowering_the_concurrency_target_clears_concurrency_target_too_high(load: list[Request]) -> None:
    # Each replica serves 2 at once; a target of 4 x 0.75 sends it 3, so a queue builds below max.
    too_high = replace(SHORT_DELAY, concurrency_target=4.0, scale_down_delay=300.0)

    before = diagnosed(too_high, load)
    fixed = applied(
        too_high, before, ConditionType.CONCURRENCY_TARGET_TOO_HIGH, "autoscaling.concurrencyTarget"
    )

    assert fixed.concurrency_target < too_high.concurrency_target
    assert not [f.type for f in diagnosed(fixed, load) if f.is_problem]
