"""Thrashing and ScaleDownTooFast: rules over the replica changes, and their look-alikes."""

from __future__ import annotations

import math

from tests.unit.diagnosis.diagnosis_timelines import Timeline, finding_of, oscillating, scaling

from modelscaler.engine.diagnosis import ConditionStatus, ConditionType, DiagnosisParams

THRASHING = ConditionType.THRASHING
TOO_FAST = ConditionType.SCALE_DOWN_TOO_FAST


def spike_after_scale_down(elapsed: float) -> float:
    """p95 of a server that loses replicas: 3.1 s for the first 30 s of a low phase, else 0.8 s."""
    return 3.1 if elapsed < 30 else 0.8


def test_thrashing_fires_on_repeated_reversals_and_recommends_the_period() -> None:
    timeline = Timeline()
    for _ in range(5):
        timeline.phase(150, desired=6, concurrency=15.0, latency_p95=0.8)
        timeline.phase(150, desired=2, concurrency=5.0, latency_p95=spike_after_scale_down)

    finding = finding_of(timeline, THRASHING, scaling(scale_down_delay=60.0))

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "ReplicasOscillating"
    # 8 changes fall in the 20 min lookback (one every 2.5 min): 7 reversals, 4 of them down.
    assert finding.message.startswith("7 direction reversals in 20 min, one cycle every 5 min")
    assert "p95 rose from 0.8 s to 3.1 s within 30 s of 4 of them" in finding.message
    (recommendation,) = finding.recommendations
    assert recommendation.setting == "autoscaling.scaleDownDelay"
    assert recommendation.current == "1m"
    # period 5 min x margin 1.2 = 6 min
    assert recommendation.suggested == "6m"


def test_thrashing_without_latency_data_says_so() -> None:
    timeline = oscillating(Timeline(), cycles=4, period=240, low=2, high=5)

    finding = finding_of(timeline, THRASHING, scaling(scale_down_delay=60.0))

    assert finding.status is ConditionStatus.TRUE
    assert "latency unknown" in finding.message


def test_thrashing_with_a_delay_already_longer_than_the_period_recommends_nothing() -> None:
    timeline = oscillating(Timeline(), cycles=4, period=240, low=2, high=5)

    finding = finding_of(timeline, THRASHING, scaling(scale_down_delay=1800.0))

    assert finding.status is ConditionStatus.TRUE
    assert finding.recommendations == ()
    assert "already covers the period" in finding.message


def test_a_slow_first_start_is_not_thrashing() -> None:
    # Pods take 8 min to load; load arrives meanwhile, so the engine scales up twice while
    # latency is terrible, then once down after the backlog is served.
    timeline = Timeline()
    timeline.phase(240, desired=2, starting_replicas=2, concurrency=8.0, latency_p95=9.0)
    timeline.phase(240, desired=4, starting_replicas=4, concurrency=14.0, latency_p95=12.0)
    timeline.phase(300, desired=5, concurrency=12.0, latency_p95=1.0)
    timeline.phase(600, desired=4, concurrency=10.0, latency_p95=0.7)

    finding = finding_of(timeline, THRASHING)

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "NoOscillation"
    # The one scale-down (5 -> 4) goes back over a third of the rise (2 -> 5): not a swing.
    assert finding.message.startswith("0 direction reversals")


def test_a_daily_ramp_is_not_thrashing_even_seen_whole() -> None:
    # One day at 1 tick/min: replicas follow a smooth sine from 2 up to 10 and back.
    timeline = Timeline(tick=60.0)
    timeline.phase(
        86_400,
        desired=lambda t: round(6 - 4 * math.cos(2 * math.pi * t / 86_400)),
        concurrency=lambda t: 3 * (6 - 4 * math.cos(2 * math.pi * t / 86_400)),
        latency_p95=0.9,
    )
    whole_day = DiagnosisParams(thrash_lookback=86_400, sdtf_lookback=86_400)

    thrashing = finding_of(timeline, THRASHING, dparams=whole_day)
    too_fast = finding_of(timeline, TOO_FAST, dparams=whole_day)

    assert len(timeline.scale_events) >= 16
    assert thrashing.status is ConditionStatus.FALSE
    assert thrashing.message.startswith("1 direction reversals")
    assert too_fast.status is ConditionStatus.FALSE


def test_an_overshoot_and_its_correction_between_load_steps_is_not_thrashing() -> None:
    # 1 -> 3, corrected to 2; a load step to 20, corrected to 17 after the cold start's backlog.
    timeline = Timeline(max_replicas=20)
    timeline.phase(30, desired=1)
    timeline.phase(330, desired=3)
    timeline.phase(270, desired=2)
    timeline.phase(330, desired=20)
    timeline.phase(270, desired=17)

    finding = finding_of(timeline, THRASHING, scaling(max_replicas=20))

    assert len(timeline.scale_events) == 4
    assert finding.status is ConditionStatus.FALSE
    assert finding.message.startswith("2 direction reversals")


def test_small_swings_count_when_the_retrace_threshold_allows_them() -> None:
    timeline = Timeline(max_replicas=20)
    for level in (1, 3, 2, 20, 17):
        timeline.phase(240, desired=level)

    finding = finding_of(
        timeline, THRASHING, scaling(max_replicas=20), DiagnosisParams(thrash_min_retrace=0.1)
    )

    assert finding.status is ConditionStatus.TRUE


def test_one_replica_wobbles_that_latency_does_not_notice_are_not_thrashing() -> None:
    timeline = oscillating(Timeline(), cycles=5, period=240, low=1, high=2, latency_p95=0.5)

    finding = finding_of(timeline, THRASHING, scaling(scale_down_delay=60.0))

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "SmallSwings"


def test_one_replica_swings_with_latency_spikes_are_thrashing() -> None:
    timeline = Timeline()
    for _ in range(5):
        timeline.phase(120, desired=2, concurrency=3.0, latency_p95=0.5)
        timeline.phase(120, desired=1, concurrency=2.0, latency_p95=spike_after_scale_down)

    finding = finding_of(timeline, THRASHING, scaling(scale_down_delay=60.0))

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "ReplicasOscillating"


def test_scale_events_are_derived_from_samples_when_none_are_given() -> None:
    timeline = oscillating(Timeline(), cycles=4, period=240, low=2, high=5)
    timeline.scale_events.clear()

    finding = finding_of(timeline, THRASHING, scaling(scale_down_delay=60.0))

    assert finding.status is ConditionStatus.TRUE


def test_scale_down_too_fast_fires_on_repeated_quick_comebacks() -> None:
    # Three times: 15 min busy, a scale-down, and the load is back 4 min later.
    timeline = Timeline()
    for _ in range(3):
        timeline.phase(900, desired=6, concurrency=16.0, latency_p95=0.7)
        timeline.phase(240, desired=3, concurrency=4.0, latency_p95=0.7)
    timeline.phase(300, desired=6, concurrency=16.0, latency_p95=0.7)

    finding = finding_of(timeline, TOO_FAST, scaling(scale_down_delay=300.0))

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "ScaleUpSoonAfterScaleDown"
    assert finding.message.startswith("3 scale-ups came 4 min after a scale-down in the last 60 min")
    (recommendation,) = finding.recommendations
    assert recommendation.setting == "autoscaling.scaleDownDelay"
    assert recommendation.current == "5m"
    # (current 5 min + gap 4 min) x 1.2 = 10.8 min -> 11 min
    assert recommendation.suggested == "11m"


def test_a_comeback_after_step_downs_counts_from_the_first_step() -> None:
    # The engine steps down 6 -> 4 -> 2 a minute apart; the load is back a minute after the last step.
    timeline = Timeline()
    for _ in range(3):
        timeline.phase(900, desired=6, concurrency=16.0)
        timeline.phase(60, desired=4, concurrency=4.0)
        timeline.phase(60, desired=2, concurrency=4.0)
    timeline.phase(300, desired=6, concurrency=16.0)

    finding = finding_of(timeline, TOO_FAST, scaling(scale_down_delay=300.0))

    assert finding.status is ConditionStatus.TRUE
    assert "3 scale-ups came 60 s after a scale-down" in finding.message
    assert "2 min at most after the scale-downs began" in finding.message
    # (current 5 min + 2 min since the first step) x 1.2 = 8.4 min -> 9 min
    assert finding.recommendations[0].suggested == "9m"


def test_one_planned_scale_down_is_not_scale_down_too_fast() -> None:
    timeline = Timeline()
    timeline.phase(1800, desired=6, concurrency=16.0)
    timeline.phase(3600, desired=2, concurrency=5.0)

    finding = finding_of(timeline, TOO_FAST)

    assert finding.status is ConditionStatus.FALSE
    assert finding.message.startswith("0 scale-ups")


def test_a_single_quick_comeback_is_not_repeated() -> None:
    timeline = Timeline()
    timeline.phase(1800, desired=6, concurrency=16.0)
    timeline.phase(180, desired=3, concurrency=5.0)
    timeline.phase(1800, desired=6, concurrency=16.0)

    finding = finding_of(timeline, TOO_FAST)

    assert finding.status is ConditionStatus.FALSE
    assert finding.message.startswith("1 scale-ups")


def test_scale_ups_long_after_scale_downs_are_not_too_fast() -> None:
    timeline = Timeline()
    for _ in range(3):
        timeline.phase(600, desired=6, concurrency=16.0)
        timeline.phase(900, desired=3, concurrency=5.0)

    finding = finding_of(timeline, TOO_FAST)

    assert finding.status is ConditionStatus.FALSE
