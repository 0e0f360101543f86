"""CapacityExhausted, ConcurrencyTargetTooHigh, Overprovisioned, AsyncBackpressure, KVCacheSaturated."""

from __future__ import annotations

from tests.unit.diagnosis.diagnosis_timelines import Timeline, finding_of, scaling

from modelscaler.engine.diagnosis import ConditionStatus, ConditionType

CAPACITY = ConditionType.CAPACITY_EXHAUSTED
TARGET = ConditionType.CONCURRENCY_TARGET_TOO_HIGH
OVERPROVISIONED = ConditionType.OVERPROVISIONED
BACKPRESSURE = ConditionType.ASYNC_BACKPRESSURE
KV_CACHE = ConditionType.KV_CACHE_SATURATED


# --- CapacityExhausted -------------------------------------------------------------------------


def test_capacity_exhausted_fires_at_max_with_latency_degrading() -> None:
    timeline = Timeline(max_replicas=5)
    timeline.phase(600, desired=3, wanted_replicas=3, concurrency=8.0, latency_p95=0.8)
    timeline.phase(
        480, desired=5, wanted_replicas=lambda t: 7 + int(t // 160), latency_p95=lambda t: 2.5 + t / 480
    )

    finding = finding_of(timeline, CAPACITY)

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "AtMaxReplicas"
    assert finding.message.startswith("at maxReplicas 5 for 8 min of the last 10 min, wanting up to 9;")
    assert "p95 over the 2.0 s objective in 32 of 32 ticks (from 2.5 s to a peak of 3.5 s)" in finding.message
    by_setting = {r.setting: r for r in finding.recommendations}
    assert (
        by_setting["autoscaling.maxReplicas"].current,
        by_setting["autoscaling.maxReplicas"].suggested,
    ) == (
        "5",
        "9",
    )
    # target 4 x wanted 9 / max 5 = 7.2 -> 8 (the alternative: each replica carries more)
    assert by_setting["autoscaling.concurrencyTarget"].suggested == "8"


def test_a_short_burst_at_max_is_not_capacity_exhausted() -> None:
    timeline = Timeline(max_replicas=5)
    timeline.phase(600, desired=3, wanted_replicas=3, latency_p95=0.8)
    timeline.phase(60, desired=5, wanted_replicas=7, latency_p95=1.6)
    timeline.phase(120, desired=5, wanted_replicas=5, latency_p95=0.9)

    finding = finding_of(timeline, CAPACITY)

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "WithinCapacity"


def test_a_long_stay_at_max_that_latency_absorbs_is_not_capacity_exhausted() -> None:
    timeline = Timeline(max_replicas=5)
    timeline.phase(600, desired=5, wanted_replicas=6, latency_p95=1.4)

    finding = finding_of(timeline, CAPACITY)

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "LatencyWithinObjective"


def test_capacity_at_max_without_latency_is_unknown() -> None:
    timeline = Timeline(max_replicas=5).phase(600, desired=5, wanted_replicas=8)

    finding = finding_of(timeline, CAPACITY)

    assert finding.status is ConditionStatus.UNKNOWN
    assert finding.reason == "LatencyUnknown"


# --- ConcurrencyTargetTooHigh -----------------------------------------------------------------


def overloaded_below_max(timeline: Timeline) -> Timeline:
    """A server that meets 2 s up to 4 in flight per replica; target 10 x 0.7 lets it reach 6.5."""
    for per_replica in (2.0, 3.0, 4.0):
        timeline.phase(600, desired=4, concurrency=4 * per_replica, latency_p95=0.6, waiting_requests=0.0)
    timeline.phase(600, desired=4, concurrency=26.0, latency_p95=3.4, waiting_requests=5.0)
    return timeline


def test_concurrency_target_too_high_recommends_the_load_that_met_the_objective() -> None:
    timeline = overloaded_below_max(Timeline())

    finding = finding_of(timeline, TARGET, scaling(concurrency_target=10.0, target_utilization=0.7))

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "OverloadedBelowMax"
    assert (
        "p95 3.4 s median (objective 2.0 s) for 10 min of the last 10 min at 6.5 requests" in finding.message
    )
    assert "latency met the objective up to 4 per replica" in finding.message
    (recommendation,) = finding.recommendations
    assert (recommendation.setting, recommendation.current, recommendation.suggested) == (
        "autoscaling.concurrencyTarget",
        "10",
        "4",
    )


def test_concurrency_target_without_any_good_tick_estimates_from_latency() -> None:
    timeline = Timeline().phase(600, desired=4, concurrency=26.0, latency_p95=3.0, waiting_requests=3.0)

    finding = finding_of(timeline, TARGET, scaling(concurrency_target=10.0, target_utilization=0.7))

    assert finding.status is ConditionStatus.TRUE
    (recommendation,) = finding.recommendations
    # 10 x objective 2 / latency 3 = 6.7 -> 6
    assert recommendation.suggested == "6"
    assert "a step down" in recommendation.reason


def test_concurrency_target_with_nothing_but_latency_steps_down_at_most_by_half() -> None:
    timeline = Timeline().phase(600, desired=4, concurrency=26.0, latency_p95=8.0)

    finding = finding_of(timeline, TARGET, scaling(concurrency_target=10.0, target_utilization=0.7))

    (recommendation,) = finding.recommendations
    # 10 x objective 2 / latency 8 = 2.5, but a step halves the target at most: 5
    assert recommendation.suggested == "5"


def test_latency_at_loads_above_the_target_is_not_the_target_being_too_high() -> None:
    # Latency met the objective at 5 per replica, above the target of 4: replicas stayed low
    # for another reason (a paused or rate-limited engine).
    timeline = Timeline()
    timeline.phase(1200, desired=3, concurrency=15.0, latency_p95=0.9, waiting_requests=0.0)
    timeline.phase(600, desired=3, concurrency=18.0, latency_p95=3.0, waiting_requests=2.0)

    finding = finding_of(timeline, TARGET)

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "LoadAboveTarget"


def test_slow_latency_at_low_load_is_not_a_target_problem() -> None:
    # A slow model: over the objective at 1 request per replica, far below the target's 7.
    timeline = Timeline().phase(900, desired=4, concurrency=4.0, latency_p95=3.0, waiting_requests=1.0)

    finding = finding_of(timeline, TARGET, scaling(concurrency_target=10.0, target_utilization=0.7))

    assert finding.status is ConditionStatus.FALSE


def test_latency_over_objective_at_max_is_capacity_not_target() -> None:
    timeline = Timeline(max_replicas=4).phase(
        600, desired=4, wanted_replicas=6, concurrency=26.0, latency_p95=3.4, waiting_requests=5.0
    )

    target = finding_of(
        timeline, TARGET, scaling(max_replicas=4, concurrency_target=10.0, target_utilization=0.7)
    )
    capacity = finding_of(timeline, CAPACITY, scaling(max_replicas=4, concurrency_target=10.0))

    assert target.status is ConditionStatus.FALSE
    assert capacity.status is ConditionStatus.TRUE


def test_latency_while_replicas_start_is_not_a_target_problem() -> None:
    timeline = Timeline().phase(
        600, desired=6, starting_replicas=2, concurrency=26.0, latency_p95=3.4, waiting_requests=5.0
    )

    finding = finding_of(timeline, TARGET, scaling(concurrency_target=10.0, target_utilization=0.7))

    assert finding.status is ConditionStatus.FALSE


def test_no_waiting_requests_means_no_queueing() -> None:
    timeline = Timeline().phase(600, desired=4, concurrency=26.0, latency_p95=3.4, waiting_requests=0.0)

    finding = finding_of(timeline, TARGET, scaling(concurrency_target=10.0, target_utilization=0.7))

    assert finding.status is ConditionStatus.FALSE


# --- Overprovisioned ----------------------------------------------------------------------------


def test_overprovisioned_fires_when_min_replicas_exceeds_the_load() -> None:
    timeline = Timeline(min_replicas=6).phase(3600, desired=6, concurrency=lambda t: 1.0 + (t % 600) / 1200)

    finding = finding_of(timeline, OVERPROVISIONED, scaling(min_replicas=6))

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "MinReplicasAboveLoad"
    # peak load 1.49 / capacity 3 -> 1 replica; mean load per replica about 1.25 / 6 / 3 = 7%
    assert "the load needed at most 1 replicas" in finding.message
    assert "while at least 6 were Ready; load per replica averaged 7% of the capacity" in finding.message
    (recommendation,) = finding.recommendations
    assert (recommendation.setting, recommendation.current, recommendation.suggested) == (
        "autoscaling.minReplicas",
        "6",
        "1",
    )


def test_replicas_kept_above_the_load_without_min_replicas_say_so() -> None:
    # Another autoscaler (or a paused one) keeps 6 replicas for 1 request in flight.
    timeline = Timeline().phase(3600, desired=6, concurrency=1.0)

    finding = finding_of(timeline, OVERPROVISIONED)

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "ReplicasAboveLoad"
    assert "minReplicas 1 is not what holds them" in finding.message
    assert finding.recommendations == ()


def test_replicas_held_by_the_scale_down_delay_are_not_overprovisioned() -> None:
    # A peak just over an hour ago wanted 6 replicas: out of the 1 h window, but a 1 h delay
    # (+ the 1 min autoscaling window) still keeps them (the engine doing its job).
    timeline = Timeline()
    timeline.phase(300, desired=6, concurrency=17.0)
    timeline.phase(3630, desired=6, concurrency=1.0)

    finding = finding_of(timeline, OVERPROVISIONED, scaling(scale_down_delay=3600.0))

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "ScaleDownDelayHolds"


def test_overprovisioned_needs_a_long_history() -> None:
    timeline = Timeline(min_replicas=6).phase(600, desired=6, concurrency=1.0)

    finding = finding_of(timeline, OVERPROVISIONED, scaling(min_replicas=6))

    assert finding.status is ConditionStatus.UNKNOWN
    assert finding.reason == "InsufficientHistory"


def test_min_replicas_that_the_peak_needs_is_not_overprovisioned() -> None:
    # Mostly idle, but a peak every 10 min needs all 3 replicas.
    timeline = Timeline(min_replicas=3).phase(
        3600, desired=3, concurrency=lambda t: 9.0 if t % 600 < 60 else 0.5
    )

    finding = finding_of(timeline, OVERPROVISIONED, scaling(min_replicas=3))

    assert finding.status is ConditionStatus.FALSE


def test_overprovisioned_without_load_data_is_unknown() -> None:
    timeline = Timeline(min_replicas=6).phase(3600, desired=6)

    finding = finding_of(timeline, OVERPROVISIONED, scaling(min_replicas=6))

    assert finding.status is ConditionStatus.UNKNOWN
    assert finding.reason == "LoadUnknown"


# --- AsyncBackpressure --------------------------------------------------------------------------


def test_growing_queue_at_max_recommends_more_replicas() -> None:
    # Served 4/s; the queue grows 1/s: arrivals 5/s, x 1.25 the capacity.
    timeline = Timeline(max_replicas=8).phase(
        600, desired=8, queue_size=lambda t: 20 + t, request_rate=4.0, concurrency=20.0
    )

    finding = finding_of(timeline, BACKPRESSURE, scaling(max_replicas=8))

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "QueueGrowing"
    assert "trend 60/min" in finding.message
    (recommendation,) = finding.recommendations
    assert (recommendation.setting, recommendation.suggested) == ("autoscaling.maxReplicas", "10")


def test_growing_queue_below_max_recommends_a_lower_target() -> None:
    timeline = Timeline(max_replicas=8).phase(600, desired=4, queue_size=lambda t: t, request_rate=4.0)

    finding = finding_of(timeline, BACKPRESSURE, scaling(max_replicas=8))

    (recommendation,) = finding.recommendations
    # target 4 / 1.25 = 3.2 -> 3
    assert (recommendation.setting, recommendation.current, recommendation.suggested) == (
        "autoscaling.concurrencyTarget",
        "4",
        "3",
    )


def test_a_queue_that_wobbles_is_not_backpressure() -> None:
    timeline = Timeline().phase(600, desired=4, queue_size=lambda t: 30 + (15 if (t // 60) % 2 else -15))

    finding = finding_of(timeline, BACKPRESSURE)

    assert finding.status is ConditionStatus.FALSE


def test_without_a_queue_metric_backpressure_is_unknown() -> None:
    timeline = Timeline().phase(600, desired=4, concurrency=3.0)

    finding = finding_of(timeline, BACKPRESSURE)

    assert finding.status is ConditionStatus.UNKNOWN
    assert finding.reason == "NoQueueData"


# --- KVCacheSaturated ---------------------------------------------------------------------------


def test_kv_cache_full_while_requests_wait_recommends_a_lower_target() -> None:
    timeline = Timeline().phase(300, desired=2, kv_cache_usage=0.97, waiting_requests=6.0, concurrency=30.0)

    finding = finding_of(timeline, KV_CACHE, scaling(concurrency_target=16.0))

    assert finding.status is ConditionStatus.TRUE
    assert finding.reason == "KVCacheFull"
    assert finding.message.startswith("KV cache 97% full (median) with 6 requests waiting")
    (recommendation,) = finding.recommendations
    # (30 - 6) / 2 = 12 running per replica fill 97%; 12 x 0.8 / 0.97 = 9.9 -> 9
    assert (recommendation.current, recommendation.suggested) == ("16", "9")


def test_kv_cache_full_with_an_inconsistent_running_count_steps_the_target_down() -> None:
    # The window-averaged concurrency lags a queue that grows: running requests are unknown.
    timeline = Timeline().phase(300, desired=2, kv_cache_usage=1.0, waiting_requests=40.0, concurrency=30.0)

    finding = finding_of(timeline, KV_CACHE, scaling(concurrency_target=16.0))

    (recommendation,) = finding.recommendations
    # 16 x 0.8 / 1.0 = 12.8 -> 12
    assert recommendation.suggested == "12"
    assert "a step" in recommendation.reason


def test_a_full_kv_cache_with_nobody_waiting_is_fine() -> None:
    timeline = Timeline().phase(300, desired=2, kv_cache_usage=0.95, waiting_requests=0.0, concurrency=20.0)

    finding = finding_of(timeline, KV_CACHE)

    assert finding.status is ConditionStatus.FALSE
    assert finding.reason == "KVCacheHasRoom"


def test_kv_cache_full_with_waiting_unknown_is_unknown() -> None:
    timeline = Timeline().phase(300, desired=2, kv_cache_usage=0.95, concurrency=20.0)

    finding = finding_of(timeline, KV_CACHE)

    assert finding.status is ConditionStatus.UNKNOWN
    assert finding.reason == "WaitingUnknown"


def test_a_server_without_kv_cache_metrics_is_unknown() -> None:
    finding = finding_of(Timeline().phase(300, desired=2, concurrency=3.0), KV_CACHE)

    assert finding.status is ConditionStatus.UNKNOWN
    assert finding.reason == "NoKVCacheData"
