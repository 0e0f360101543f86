"""ColdStartDelay and FrequentRestarts: rules over the pods' starts and restarts."""

from __future__ import annotations

from tests.unit.diagnosis.diagnosis_timelines import Timeline, finding_of, scaling

from modelscaler.engine.diagnosis import ConditionStatus, ConditionType

COLD_START = ConditionType.COLD_START_DELAY
RESTARTS = ConditionType.FREQUENT_RESTARTS
GIB = 2**30


# --- ColdStartDelay -----------------------------------------------------------------------------


def slow_scale_up(timeline: Timeline) -> Timeline:
    """An hour at 3 replicas on 7-9 in flight, then a step to 8 whose 5 new pods take 5 min to load."""
    timeline.phase(3000, desired=3, concurrency=lambda t: 8.0 + (t % 300) / 150, latency_p95=0.7)
    timeline.phase(300, desired=8, starting_replicas=5, concurrency=22.0, latency_p95=6.0)
    for index in range(5):
        timeline.pod_start(f"model-{index}", seconds_to_ready=280.0 + 10 * index)
    timeline.phase(120, desired=8, concurrency=20.0, latency_p95=0.9)
    return timeline


def test_cold_start_delay_fires_and_recommends_min_replicas_for_the_base_load() -> None:
    timeline = slow_scale_up(Timeline())

    finding = finding_of(timeline, COLD_START)

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "SlowColdStarts"
    assert finding.message.startswith(
        "5 of 8 replicas starting, 3 Ready, in a gap that lasted 5 min, ending 2 min ago"
    )
    assert "pods took 5 min median, 5.3 min at most, to become Ready (5 starts)" in finding.message
    (recommendation,) = finding.recommendations
    # p10 of the hour's load is about 8.2 in flight / capacity 3 -> 3 replicas
    assert (recommendation.setting, recommendation.current, recommendation.suggested) == (
        "autoscaling.minReplicas",
        "1",
        "3",
    )


def test_cold_start_with_min_replicas_already_covering_the_base_load_recommends_no_min() -> None:
    timeline = slow_scale_up(Timeline(min_replicas=3))

    finding = finding_of(timeline, COLD_START, scaling(min_replicas=3))

    assert finding.status is ConditionStatus.TRUE
    assert finding.recommendations == ()
    assert "minReplicas already covers the base load" in finding.message


def test_the_first_start_of_a_deployment_is_not_a_cold_start_delay() -> None:
    timeline = Timeline()
    timeline.phase(420, desired=3, starting_replicas=3, latency_p95=None)
    timeline.phase(300, desired=3, concurrency=6.0, latency_p95=0.8)

    finding = finding_of(timeline, COLD_START)

    assert finding.status is ConditionStatus.FALSE


def test_a_first_start_seen_after_a_moment_without_pods_is_not_a_cold_start_delay() -> None:
    # The operator's first ticks may come before the Deployment has any pod: 0 ready, 0 starting.
    timeline = Timeline()
    timeline.phase(20, desired=3, ready_replicas=0, latency_p95=None)
    timeline.phase(420, desired=3, starting_replicas=3, latency_p95=None)
    timeline.phase(300, desired=3, concurrency=6.0, latency_p95=0.8)

    finding = finding_of(timeline, COLD_START)

    assert finding.status is ConditionStatus.FALSE


def test_quick_starts_are_not_a_cold_start_delay() -> None:
    timeline = Timeline()
    for _ in range(4):
        timeline.phase(300, desired=3, concurrency=6.0)
        timeline.phase(45, desired=6, starting_replicas=3, concurrency=12.0)
        timeline.phase(300, desired=6, concurrency=12.0)

    finding = finding_of(timeline, COLD_START)

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "StartsKeepUp"


def test_a_gap_that_ended_long_ago_has_left_the_lookback() -> None:
    timeline = slow_scale_up(Timeline()).phase(1200, desired=8, concurrency=20.0)

    finding = finding_of(timeline, COLD_START)

    assert finding.status is ConditionStatus.FALSE


# --- FrequentRestarts ---------------------------------------------------------------------------


def running(seconds: float = 3600.0) -> Timeline:
    """An hour of a quiet deployment to hang restarts on."""
    return Timeline().phase(seconds, desired=3, concurrency=3.0)


def test_oom_kills_recommend_a_larger_memory_limit() -> None:
    timeline = running()
    for index, ago in enumerate((3000, 1800, 900, 120)):
        timeline.restart(
            -ago, f"model-{index % 2}", reason="OOMKilled", exit_code=137, pod_template_hash="a1"
        )

    finding = finding_of(timeline, RESTARTS, current_template_hash="a1", memory_limit_bytes=8 * GIB)

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "OOMKilled"
    assert finding.message == (
        "4 container restarts in the last 60 min (threshold 3): 4 OOMKilled; last 2 min ago; "
        "pods model-0, model-1"
    )
    (recommendation,) = finding.recommendations
    assert (recommendation.setting, recommendation.current, recommendation.suggested) == (
        "template.spec.containers[model].resources.limits.memory",
        "8Gi",
        "12Gi",
    )


def test_exit_137_without_a_reason_counts_as_oom() -> None:
    timeline = running()
    for ago in (1200, 600, 60):
        timeline.restart(-ago, "model-0", reason="Error", exit_code=137)

    finding = finding_of(timeline, RESTARTS)

    assert finding.reason == "OOMKilled"
    assert finding.recommendations[0].current == "unknown"
    assert finding.recommendations[0].suggested == "1.5 x the current limit"


def test_crashes_before_ready_are_crash_during_load() -> None:
    timeline = running()
    for ago in (1500, 1000, 500):
        timeline.restart(-ago, "model-2", reason="Error", exit_code=1, was_ready=False)

    finding = finding_of(timeline, RESTARTS)

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "CrashDuringLoad"
    assert "fix the model load" in finding.message
    assert finding.recommendations == ()


def test_liveness_kills_recommend_a_more_tolerant_probe() -> None:
    timeline = running()
    for ago in (1500, 1000, 500):
        timeline.restart(-ago, "model-1", reason="Error", exit_code=137, liveness_failed=True)
    timeline.restart(-100, "model-1", reason="OOMKilled", exit_code=137)

    finding = finding_of(timeline, RESTARTS, liveness_failure_threshold=3)

    assert finding.reason == "LivenessProbeFailing"
    assert "3 LivenessProbeFailing" in finding.message
    assert "1 OOMKilled" in finding.message
    (recommendation,) = finding.recommendations
    assert (recommendation.setting, recommendation.current, recommendation.suggested) == (
        "template.spec.containers[model].livenessProbe.failureThreshold",
        "3",
        "6",
    )


def test_pods_replaced_by_a_rolling_update_are_not_frequent_restarts() -> None:
    timeline = running()
    for index in range(6):
        timeline.restart(
            -600 + 20 * index, f"old-{index}", reason="Error", exit_code=143, pod_template_hash="old"
        )
    timeline.restart(-30, "new-0", reason="Error", exit_code=1, pod_template_hash="new")

    finding = finding_of(timeline, RESTARTS, current_template_hash="new")

    assert finding.status is ConditionStatus.FALSE
    assert finding.message.startswith("1 container restarts in the last 60 min")


def test_restarts_older_than_the_window_do_not_count() -> None:
    timeline = running(7200)
    for ago in (7000, 6000, 5000, 4000):
        timeline.restart(-ago, "model-0", reason="OOMKilled")

    finding = finding_of(timeline, RESTARTS)

    assert finding.status is ConditionStatus.FALSE


def test_restarts_below_the_threshold_are_fine() -> None:
    timeline = (
        running().restart(-300, "model-0", reason="OOMKilled").restart(-200, "model-1", reason="OOMKilled")
    )

    finding = finding_of(timeline, RESTARTS)

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "RestartsBelowThreshold"
