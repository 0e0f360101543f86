"""Properties: diagnose() copes with any timeline, and a steady, well-sized one raises nothing."""

from __future__ import annotations

import json
import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.diagnosis.diagnosis_timelines import T0, Timeline

from modelscaler.engine.diagnosis import (
    ConditionStatus,
    ConditionType,
    DiagnosisInput,
    DiagnosisParams,
    DiagnosisState,
    diagnose,
)
from modelscaler.engine.history import PodStart, RestartEvent, Sample, ScaleEvent
from modelscaler.engine.types import ScalingParams

CAMEL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
HOUR = 3600.0

odd = st.sampled_from([math.nan, math.inf, -math.inf])
times = st.one_of(st.floats(min_value=T0 - 2 * HOUR, max_value=T0 + 60), odd)
signal = st.one_of(st.none(), st.floats(min_value=-10, max_value=1000), st.floats(), odd)
counts = st.integers(min_value=0, max_value=40)

samples = st.builds(
    Sample,
    time=times,
    desired_replicas=counts,
    ready_replicas=counts,
    starting_replicas=counts,
    wanted_replicas=st.one_of(st.none(), counts),
    min_replicas=counts,
    max_replicas=counts,
    concurrency=signal,
    arrival_concurrency=signal,
    request_rate=signal,
    latency_p50=signal,
    latency_p95=signal,
    latency_p99=signal,
    error_rate=signal,
    queue_size=signal,
    kv_cache_usage=signal,
    waiting_requests=signal,
    metrics_valid=st.booleans(),
)
scale_events = st.builds(ScaleEvent, time=times, from_replicas=counts, to_replicas=counts)
restarts = st.builds(
    RestartEvent,
    time=times,
    pod=st.sampled_from(["a", "b", "c"]),
    container=st.sampled_from(["model", "sidecar"]),
    reason=st.sampled_from(["OOMKilled", "Error", "Completed", ""]),
    exit_code=st.one_of(st.none(), st.sampled_from([0, 1, 137, 143])),
    was_ready=st.booleans(),
    liveness_failed=st.booleans(),
    pod_template_hash=st.one_of(st.none(), st.sampled_from(["old", "new"])),
)
pod_starts = st.builds(
    PodStart, time=times, pod=st.just("a"), seconds_to_ready=signal.map(lambda v: v or 0.0)
)
histories = st.builds(
    DiagnosisInput,
    samples=st.lists(samples, max_size=60),
    scale_events=st.lists(scale_events, max_size=20),
    restarts=st.lists(restarts, max_size=10),
    pod_starts=st.lists(pod_starts, max_size=5),
    current_template_hash=st.one_of(st.none(), st.just("new")),
    memory_limit_bytes=st.one_of(st.none(), st.integers(min_value=1, max_value=2**40)),
    liveness_failure_threshold=st.one_of(st.none(), st.integers(min_value=1, max_value=30)),
)
scaling_params = st.builds(
    ScalingParams,
    min_replicas=st.integers(min_value=0, max_value=5),
    max_replicas=st.integers(min_value=5, max_value=50),
    concurrency_target=st.floats(min_value=0.1, max_value=100),
    target_utilization=st.floats(min_value=0.05, max_value=1.0),
    scale_down_delay=st.floats(min_value=0, max_value=HOUR),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, params=scaling_params, now=st.floats(min_value=T0 - HOUR, max_value=T0 + HOUR))
def test_any_timeline_gives_one_well_formed_finding_per_condition(
    history: DiagnosisInput, params: ScalingParams, now: float
) -> None:
    findings, state = diagnose(history, params, DiagnosisParams(), DiagnosisState(), now)

    assert [f.type for f in findings] == list(ConditionType)
    for finding in findings:
        assert CAMEL_CASE.match(finding.reason), finding.reason
        assert finding.message
        assert (finding.since is not None) == (finding.status is ConditionStatus.TRUE)
        for recommendation in finding.recommendations:
            assert recommendation.setting
            assert recommendation.suggested
            assert recommendation.current
            assert recommendation.suggested != recommendation.current
    assert DiagnosisState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@settings(max_examples=60, deadline=None)
@given(
    tick=st.floats(min_value=5, max_value=60),
    minutes=st.integers(min_value=10, max_value=120),
    replicas=st.integers(min_value=1, max_value=20),
    fill=st.floats(min_value=0.4, max_value=1.0),
    latency=st.floats(min_value=0.05, max_value=1.9),
    queue=st.one_of(st.none(), st.floats(min_value=0, max_value=500)),
)
def test_a_steady_well_sized_timeline_raises_nothing(
    tick: float, minutes: int, replicas: int, fill: float, latency: float, queue: float | None
) -> None:
    params = ScalingParams(min_replicas=1, max_replicas=20, concurrency_target=4.0, target_utilization=0.75)
    load = replicas * params.capacity * fill
    timeline = Timeline(max_replicas=20, tick=tick).phase(
        minutes * 60,
        desired=replicas,
        wanted_replicas=replicas,
        concurrency=load,
        arrival_concurrency=load,
        latency_p50=latency / 2,
        latency_p95=latency,
        latency_p99=latency * 1.05,
        queue_size=queue,
        request_rate=load / latency,
        waiting_requests=0.0,
    )

    findings, state = diagnose(timeline.history(), params, DiagnosisParams(), DiagnosisState(), timeline.now)

    assert [f.type for f in findings if f.is_problem] == []
    assert state.to_dict() == {}


@settings(max_examples=25, deadline=None)
@given(
    huge=st.floats(min_value=1e150, max_value=1e308),
    tiny=st.floats(min_value=1e-300, max_value=1e-100),
    replicas=st.integers(min_value=0, max_value=3),
)
def test_extreme_but_finite_figures_do_not_break_the_arithmetic(
    huge: float, tiny: float, replicas: int
) -> None:
    timeline = Timeline(min_replicas=replicas, max_replicas=max(replicas, 1), tick=30.0)
    timeline.phase(
        3600,
        desired=lambda t: replicas if (t // 300) % 2 else max(replicas, 1),
        wanted_replicas=1000,
        starting_replicas=replicas,
        concurrency=lambda t: huge if (t // 60) % 2 else tiny,
        arrival_concurrency=huge,
        request_rate=tiny,
        latency_p95=huge,
        queue_size=lambda t: huge * (t / 3600),
        kv_cache_usage=huge,
        waiting_requests=huge,
    )
    for index in range(4):
        timeline.restart(-60 * index, f"p{index}", reason="OOMKilled", liveness_failed=True)
    params = ScalingParams(
        min_replicas=replicas, max_replicas=max(replicas, 1), concurrency_target=tiny, target_utilization=tiny
    )

    findings, _ = diagnose(
        timeline.history(memory_limit_bytes=2**62, liveness_failure_threshold=2**40),
        params,
        DiagnosisParams(),
        DiagnosisState(),
        timeline.now,
    )

    assert len(findings) == len(ConditionType)
    assert all(finding.message for finding in findings)
