"""Hysteresis over successive calls, the state's wire form, the summary and the merged recommendations."""

from __future__ import annotations

import json

from tests.unit.diagnosis.diagnosis_timelines import Timeline, oscillating, scaling

from modelscaler.engine.diagnosis import (
    HEALTHY,
    ConditionStatus,
    ConditionType,
    DiagnosisParams,
    DiagnosisState,
    Finding,
    diagnose,
    recommendations,
    summary,
)

THRASHING = ConditionType.THRASHING


def thrash_then_calm() -> tuple[Timeline, float]:
    """20 min of oscillation, then an hour steady; returns the timeline and when the oscillation ended."""
    timeline = oscillating(Timeline(), cycles=5, period=240, low=2, high=5, concurrency=6.0, latency_p95=0.8)
    calm_from = timeline.now
    timeline.phase(3600, desired=2, concurrency=5.0, latency_p95=0.8)
    return timeline, calm_from


def replay(timeline: Timeline, dparams: DiagnosisParams, every: float = 60.0) -> list[tuple[float, Finding]]:
    """Calls diagnose() every minute over the whole timeline, carrying the state; Thrashing at each call."""
    history = timeline.history()
    params = scaling(scale_down_delay=60.0)
    state = DiagnosisState()
    seen: list[tuple[float, Finding]] = []
    now = timeline.samples[0].time
    while now <= timeline.now:
        findings, state = diagnose(history, params, dparams, state, now)
        seen.append((now, next(f for f in findings if f.type is THRASHING)))
        # The state survives a restart of the operator: it goes through its wire form each call.
        state = DiagnosisState.from_dict(json.loads(json.dumps(state.to_dict())))
        now += every
    return seen


def test_a_condition_is_held_after_its_evidence_goes_and_clears_after_clear_after() -> None:
    timeline, calm_from = thrash_then_calm()
    dparams = DiagnosisParams(clear_after=600.0)

    seen = replay(timeline, dparams)

    true_times = [now for now, finding in seen if finding.status is ConditionStatus.TRUE]
    evidence_times = [
        now for now, finding in seen if finding.status is ConditionStatus.TRUE and not finding.held
    ]
    held_times = [now for now, finding in seen if finding.held]
    # Raised while oscillating, and one stretch only: no flapping.
    assert true_times[0] < calm_from
    assert true_times == [now for now, _ in seen if true_times[0] <= now <= true_times[-1]]
    # Evidence lasts while 3 reversals stay in the 20 min lookback, then the condition is held
    # 10 min (clear_after) more, then it clears.
    assert held_times
    assert held_times[0] == evidence_times[-1] + 60.0
    assert true_times[-1] - evidence_times[-1] < dparams.clear_after
    assert true_times[-1] + 60.0 - evidence_times[-1] >= dparams.clear_after
    held = next(finding for now, finding in seen if finding.held)
    assert held.reason == "ReplicasOscillating"
    assert "evidence last seen" in held.message
    assert held.recommendations
    assert held.recommendations[0].setting == "autoscaling.scaleDownDelay"
    assert held.since == true_times[0]
    last = seen[-1][1]
    assert last.status is ConditionStatus.FALSE
    assert last.since is None


def test_without_hysteresis_the_condition_clears_with_its_evidence() -> None:
    timeline, _ = thrash_then_calm()

    seen = replay(timeline, DiagnosisParams(clear_after=0.0))

    assert not any(finding.held for _, finding in seen)


def test_state_keeps_only_true_conditions_and_reads_back() -> None:
    timeline, calm_from = thrash_then_calm()
    findings, state = diagnose(
        timeline.history(), scaling(scale_down_delay=60.0), DiagnosisParams(), DiagnosisState(), calm_from
    )

    wire = state.to_dict()

    assert set(wire) == {f.type.value for f in findings if f.is_problem}
    assert DiagnosisState.from_dict(json.loads(json.dumps(wire))) == state


def test_state_from_a_malformed_dict_drops_what_it_cannot_read() -> None:
    state = DiagnosisState.from_dict(
        {
            "Thrashing": {"reason": "ReplicasOscillating", "since": "yesterday", "lastEvidence": 5},
            "NoSuchCondition": {"since": 1, "lastEvidence": 2},
            "ScaleDownTooFast": {"reason": "X", "since": 1, "lastEvidence": 2, "recommendations": "oops"},
        }
    )

    assert set(state.active) == {ConditionType.SCALE_DOWN_TOO_FAST}
    assert state.active[ConditionType.SCALE_DOWN_TOO_FAST].recommendations == ()
    assert DiagnosisState.from_dict(None) == DiagnosisState()


def test_summary_is_the_first_true_reason_in_severity_order() -> None:
    timeline = Timeline(max_replicas=5)
    for _ in range(3):
        timeline.phase(120, desired=5, wanted_replicas=8, latency_p95=3.0)
        timeline.phase(120, desired=2, wanted_replicas=2, latency_p95=0.5)
    timeline.phase(300, desired=5, wanted_replicas=8, latency_p95=3.0)
    findings, _ = diagnose(
        timeline.history(), scaling(max_replicas=5), DiagnosisParams(), DiagnosisState(), timeline.now
    )

    problems = [f.type for f in findings if f.is_problem]

    assert problems[:2] == [ConditionType.CAPACITY_EXHAUSTED, ConditionType.THRASHING]
    assert summary(findings) == "AtMaxReplicas"


def test_summary_of_a_healthy_deployment() -> None:
    timeline = Timeline().phase(600, desired=2, concurrency=5.0, latency_p95=0.5)
    findings, _ = diagnose(timeline.history(), scaling(), DiagnosisParams(), DiagnosisState(), timeline.now)

    assert summary(findings) == HEALTHY


def test_recommendations_give_one_value_per_setting_from_the_most_severe_problem() -> None:
    timeline = Timeline()
    for _ in range(5):
        timeline.phase(150, desired=6, concurrency=15.0, latency_p95=0.8)
        timeline.phase(150, desired=2, concurrency=5.0, latency_p95=0.8)
    findings, _ = diagnose(
        timeline.history(), scaling(scale_down_delay=60.0), DiagnosisParams(), DiagnosisState(), timeline.now
    )
    thrashing = next(f for f in findings if f.type is THRASHING)
    too_fast = next(f for f in findings if f.type is ConditionType.SCALE_DOWN_TOO_FAST)
    assert thrashing.is_problem
    assert too_fast.is_problem

    merged = recommendations(findings)

    assert [r.setting for r in merged] == ["autoscaling.scaleDownDelay"]
    assert merged[0] == thrashing.recommendations[0]


def test_a_condition_remembered_from_long_ago_starts_anew() -> None:
    timeline, calm_from = thrash_then_calm()
    params = scaling(scale_down_delay=60.0)
    _, state = diagnose(timeline.history(), params, DiagnosisParams(), DiagnosisState(), calm_from)
    old_since = state.active[THRASHING].since

    # The operator was down for a day; the same evidence is seen again, shifted by a day.
    later = Timeline(now=calm_from + 86_400)
    later = oscillating(later, cycles=5, period=240, low=2, high=5)
    findings, _ = diagnose(later.history(), params, DiagnosisParams(), state, later.now)

    thrashing = next(f for f in findings if f.type is THRASHING)
    assert thrashing.since == later.now
    assert thrashing.since != old_since
