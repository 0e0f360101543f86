"""spec.diagnosis.timeScale: every duration of the rules compressed, and the same story on a faster clock
gets the same verdicts."""

from __future__ import annotations

from dataclasses import fields

import pytest
from pydantic import ValidationError
from tests.unit.diagnosis.diagnosis_timelines import Timeline, scaling

from modelscaler.api.spec import DiagnosisSpec
from modelscaler.engine.diagnosis import (
    ConditionStatus,
    ConditionType,
    DiagnosisParams,
    DiagnosisState,
    Finding,
    diagnose,
)
from modelscaler.engine.diagnosis.spec import (
    SCALED_DURATIONS,
    SCALED_RATES,
    UNSCALED_DURATIONS,
    params_from_diagnosis_spec,
    time_scaled,
)

# The thresholds that hold no time: counts, shares, factors, percentiles, latencies.
TIMELESS = {
    "latency_percentile",
    "latency_objective_seconds",  # a request's latency: the server's, not the deployment's tempo
    "restart_threshold",
    "thrash_min_reversals",
    "thrash_min_retrace",
    "thrash_spike_factor",
    "delay_margin",
    "capacity_over_objective_share",
    "cold_gap_share",
    "cold_base_percentile",
    "ctt_min_load_share",
    "ctt_good_percentile",
    "ctt_min_good_samples",
    "sdtf_min_count",
    "oom_memory_factor",
    "liveness_threshold_factor",
    "async_min_growth",
    "async_min_samples",
    "overprov_max_utilization",
    "overprov_min_known_share",
    "kv_full_usage",
    "kv_target_usage",
}


def test_every_threshold_is_classified_once() -> None:
    groups = [set(SCALED_DURATIONS), set(SCALED_RATES), set(UNSCALED_DURATIONS), TIMELESS]
    names = [f.name for f in fields(DiagnosisParams)]

    assert sorted(name for group in groups for name in group) == sorted(names)


def test_time_scale_multiplies_durations_and_divides_rates() -> None:
    defaults = DiagnosisParams()

    fast = params_from_diagnosis_spec(
        DiagnosisSpec.model_validate(
            {"timeScale": 0.1, "lookback": "20m", "coldStartThreshold": "90s", "restartThreshold": 4}
        )
    )

    assert fast.thrash_lookback == pytest.approx(120)
    assert fast.clear_after == pytest.approx(60)
    assert fast.restart_window == pytest.approx(360)
    # The spec's own durations are compressed too.
    assert fast.sdtf_lookback == fast.overprov_window == fast.cold_base_window == pytest.approx(120)
    assert fast.cold_min_gap_seconds == pytest.approx(9)
    assert fast.async_min_slope == pytest.approx(defaults.async_min_slope * 10)
    # The operator's tick gap, counts and latencies are not time of the deployment.
    assert fast.max_sample_gap == defaults.max_sample_gap
    assert fast.restart_threshold == 4
    assert fast.latency_objective_seconds == defaults.latency_objective_seconds
    for name in TIMELESS - {"restart_threshold"}:
        assert getattr(fast, name) == getattr(defaults, name), name


def test_time_scale_one_changes_nothing_and_a_non_positive_one_is_refused() -> None:
    params = DiagnosisParams(thrash_lookback=900.0)

    assert time_scaled(params, 1.0) is params
    with pytest.raises(ValueError, match="positive"):
        time_scaled(params, 0.0)


@pytest.mark.parametrize("value", [0, 0.001, 1.5, -1])
def test_the_spec_refuses_time_scales_outside_its_range(value: float) -> None:
    with pytest.raises(ValidationError, match=r"timeScale|time_scale"):
        DiagnosisSpec.model_validate({"timeScale": value})


def story(speed: float) -> tuple[Timeline, float]:
    """One deployment's hour, played `speed` times faster; returns it and its scale-down delay.

    50 min steady at 3 replicas; a step to 8 whose 5 new pods take 280-320 s to load; an
    oscillation between 2 and 6 replicas every 5 min with p95 spikes after each drop, under
    a 1 min delay; 4 OOM kills in the last 10 min.
    """
    timeline = Timeline(tick=15.0 / speed)
    timeline.phase(
        3000 / speed, desired=3, concurrency=lambda t: 8.0 + (t * speed % 300) / 150, latency_p95=0.7
    )
    timeline.phase(300 / speed, desired=8, starting_replicas=5, concurrency=22.0, latency_p95=6.0)
    for index in range(5):
        timeline.pod_start(f"model-{index}", seconds_to_ready=(280.0 + 10 * index) / speed)
    timeline.phase(120 / speed, desired=8, concurrency=20.0, latency_p95=0.9)
    for _ in range(4):
        timeline.phase(150 / speed, desired=6, concurrency=15.0, latency_p95=0.8)
        timeline.phase(
            150 / speed, desired=2, concurrency=5.0, latency_p95=lambda t: 3.1 if t * speed < 30 else 0.8
        )
    for minutes_ago in (9, 7, 4, 1):
        timeline.restart(-minutes_ago * 60 / speed, "model-1", reason="OOMKilled", exit_code=137)
    return timeline, 60.0 / speed


def verdicts(
    speed: float, time_scale: float, calm_seconds: float = 0.0
) -> dict[ConditionType, tuple[str, str]]:
    """Diagnoses the story tick by tick (hysteresis included), then after `calm_seconds` of calm ticks."""
    timeline, delay = story(speed)
    dparams = params_from_diagnosis_spec(DiagnosisSpec.model_validate({"timeScale": time_scale}))
    params = scaling(scale_down_delay=delay, stable_window=60.0 / speed)
    history = timeline.history()
    state = DiagnosisState()
    findings: list[Finding] = []
    for sample in timeline.samples:
        findings, state = diagnose(history, params, dparams, state, sample.time)
    if calm_seconds:
        timeline.phase(calm_seconds / speed, desired=2, concurrency=5.0, latency_p95=0.8)
        calm_history = timeline.history()
        for sample in timeline.samples[len(history.samples) :]:
            findings, state = diagnose(calm_history, params, dparams, state, sample.time)
    return {f.type: (f.status.value, f.reason) for f in findings}


def test_the_same_story_ten_times_faster_gets_the_same_verdicts_with_time_scale_a_tenth() -> None:
    at_normal_speed = verdicts(speed=1.0, time_scale=1.0)

    ten_times_faster = verdicts(speed=10.0, time_scale=0.1)

    assert ten_times_faster == at_normal_speed
    problems = {kind for kind, (status, _) in at_normal_speed.items() if status == ConditionStatus.TRUE}
    assert {
        ConditionType.FREQUENT_RESTARTS,
        ConditionType.THRASHING,
        ConditionType.SCALE_DOWN_TOO_FAST,
        ConditionType.COLD_START_DELAY,
    } <= problems


def test_conditions_clear_after_the_same_story_time_at_both_speeds() -> None:
    # 15 min of calm: the oscillation leaves Thrashing's 20 min lookback only later, the cold start
    # gap has been absent for over the 10 min hold.
    at_normal_speed = verdicts(speed=1.0, time_scale=1.0, calm_seconds=900)

    ten_times_faster = verdicts(speed=10.0, time_scale=0.1, calm_seconds=900)

    assert ten_times_faster == at_normal_speed
    assert at_normal_speed[ConditionType.COLD_START_DELAY][0] == ConditionStatus.FALSE
    assert at_normal_speed[ConditionType.THRASHING][0] == ConditionStatus.TRUE


def test_a_fast_story_judged_on_the_default_time_misses_what_its_own_time_shows() -> None:
    # Unscaled, the 30 s gap of starting replicas (5 min of the story's time) is too short to count.
    unscaled = verdicts(speed=10.0, time_scale=1.0)

    assert verdicts(speed=1.0, time_scale=1.0)[ConditionType.COLD_START_DELAY] == ("True", "SlowColdStarts")
    assert unscaled[ConditionType.COLD_START_DELAY] == ("False", "StartsKeepUp")
