"""Each peer policy on small hand-made timelines, behaving as its source says.

Shared settings: target 10 per replica at 100 % utilization unless stated, so
"load 30" means three replicas' worth.
"""

from __future__ import annotations

from tests.unit.simulate.simulate_support import LoadHistory

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.policies.baseten import Baseten
from modelscaler.simulate.policies.hpa import HorizontalPodAutoscaler
from modelscaler.simulate.policies.keda import KedaPrometheus
from modelscaler.simulate.policies.knative import KnativeKPA
from modelscaler.simulate.policies.modelscaler import Modelscaler
from modelscaler.simulate.policies.ray import RayServe
from modelscaler.simulate.policies.registry import DEFAULT_POLICIES, POLICY_FACTORIES, build_policy

PARAMS = ScalingParams(min_replicas=1, max_replicas=50, concurrency_target=10, target_utilization=1.0)


# --- HPA -------------------------------------------------------------------------------------------


def test_hpa_holds_within_the_tolerance_and_scales_outside_it() -> None:
    hpa = HorizontalPodAutoscaler(PARAMS)
    within = LoadHistory().hold(32, 60)  # 3.2 per replica on 3: ratio 1.07
    assert hpa.decide(within.view(ready=3)).desired == 3
    hpa = HorizontalPodAutoscaler(PARAMS)
    outside = LoadHistory().hold(36, 60)  # ratio 1.2
    assert hpa.decide(outside.view(ready=3)).desired == 4


def test_hpa_scale_up_is_limited_to_double_or_plus_four_per_15_s() -> None:
    hpa = HorizontalPodAutoscaler(PARAMS)
    load = LoadHistory().hold(300, 60)  # wants 30
    assert hpa.decide(load.view(ready=2)).desired == 6  # max(2 x 2, 2 + 4)
    load.hold(300, 14)
    # 14 s later the +4 still counts against the period: it started at 2, so 6 is the limit.
    assert hpa.decide(load.view(ready=2, starting=4)).desired == 6
    load.hold(300, 1)
    # 15 s after the first step the period has slid: from 6, max(6 x 2, 6 + 4) = 12.
    assert hpa.decide(load.view(ready=2, starting=4)).desired == 12


def test_hpa_counts_starting_pods_as_idle_on_a_scale_up() -> None:
    hpa = HorizontalPodAutoscaler(PARAMS)
    # 3 ready carry 36 (ratio 1.2); with 3 more starting at 0 the ratio is 0.6: the HPA holds.
    assert hpa.decide(LoadHistory().hold(36, 60).view(ready=3, starting=3)).desired == 6


def test_hpa_scale_down_waits_for_the_300_s_stabilization_window() -> None:
    hpa = HorizontalPodAutoscaler(PARAMS)
    load = LoadHistory().hold(100, 60)
    assert hpa.decide(load.view(ready=10)).desired == 10  # recommendation 10 at t=60
    load.hold(20, 60)
    while load.now < 360:  # syncs every 15 s at low load (wanting 2) until the window slides past t=60
        assert hpa.decide(load.view(ready=10)).desired == 10
        load.hold(20, 15)
    assert load.now == 360
    assert hpa.decide(load.view(ready=10)).desired == 2


# --- KEDA ------------------------------------------------------------------------------------------


def test_keda_uses_an_external_metric_against_the_current_replica_count() -> None:
    keda = KedaPrometheus(PARAMS)
    # Total 36 over 3 replicas (one still starting) = ratio 1.2: ceil(36 / 10) = 4, starting pods
    # are not assumed idle as with a Pods metric.
    assert keda.decide(LoadHistory().hold(36, 60).view(ready=2, starting=1)).desired == 4


def test_keda_activates_from_zero_on_a_poll_and_deactivates_after_the_cooldown() -> None:
    params = ScalingParams(min_replicas=0, max_replicas=10, concurrency_target=10, target_utilization=1.0)
    keda = KedaPrometheus(params)
    load = LoadHistory().hold(0, 30)
    assert keda.decide(load.view(ready=0)).desired == 0
    load.hold(5, 15)
    assert keda.decide(load.view(ready=0)).desired == 0  # 15 s after the last poll: not polled yet
    load.hold(5, 15)
    assert keda.decide(load.view(ready=0)).desired == 1  # the poll at 60 s sees activity
    load.hold(0, 120)  # the 60-s window is empty from t=180
    assert keda.decide(load.view(ready=1)).desired == 1  # active at 60 s: cooldown runs to 360 s
    load.hold(0, 210)
    assert keda.decide(load.view(ready=1)).desired == 0


# --- Knative ---------------------------------------------------------------------------------------


def test_knative_panics_at_twice_the_ready_capacity_and_only_rises_while_panicking() -> None:
    kpa = KnativeKPA(PARAMS)
    load = LoadHistory().hold(20, 60)
    assert kpa.decide(load.view(ready=2)).desired == 2
    load.hold(80, 6)  # the 6-s window wants 8 >= 2 x 2 ready: panic
    step = kpa.decide(load.view(ready=2))
    assert (step.desired, step.reason) == (8, "Panic")
    load.hold(10, 6)  # the burst is over, but panic holds the count
    assert kpa.decide(load.view(ready=8)).desired == 8
    load.hold(10, 60)  # a stable window after the last over-threshold tick: panic ends
    step = kpa.decide(load.view(ready=8))
    assert step.reason == "Stable"
    assert step.desired == 4  # at most halves (max scale-down rate 2): 8 -> 4, although 1 is wanted


def test_knative_scale_down_delay_holds_the_window_maximum() -> None:
    kpa = KnativeKPA(PARAMS, scale_down_delay=120)
    load = LoadHistory().hold(40, 60)
    assert kpa.decide(load.view(ready=4)).desired == 4
    load.hold(20, 60)
    assert kpa.decide(load.view(ready=4)).desired == 4  # 4 recorded 60 s ago is within the delay
    load.hold(20, 61)
    assert kpa.decide(load.view(ready=4)).desired == 2


def test_knative_applies_the_target_utilization_to_the_target() -> None:
    params = ScalingParams(min_replicas=1, max_replicas=50, concurrency_target=10, target_utilization=0.7)
    assert KnativeKPA(params).decide(LoadHistory().hold(28, 60).view(ready=4)).desired == 4
    assert KnativeKPA(params).decide(LoadHistory().hold(29, 60).view(ready=4)).desired == 5


def test_knative_scales_to_zero_only_after_the_grace_period() -> None:
    params = ScalingParams(min_replicas=0, max_replicas=10, concurrency_target=10, target_utilization=1.0)
    kpa = KnativeKPA(params)
    load = LoadHistory().hold(0, 60)
    assert kpa.decide(load.view(ready=1)).desired == 1  # zero wanted from t=60
    load.hold(0, 29)
    assert kpa.decide(load.view(ready=1)).desired == 1
    load.hold(0, 1)
    assert kpa.decide(load.view(ready=1)).desired == 0


# --- Ray Serve -------------------------------------------------------------------------------------


def test_ray_scales_up_only_after_30_s_of_consistent_decisions() -> None:
    ray = RayServe(PARAMS)
    load = LoadHistory().hold(20, 60)
    assert ray.decide(load.view(ready=2)).desired == 2
    load.hold(60, 10)  # reported at t=70: the 30-s look-back averages (20 x 20 + 60 x 10) / 30
    decisions = []
    for _ in range(35):
        decisions.append(ray.decide(load.view(ready=2)).desired)
        load.hold(60, 1)
    # 30 consecutive "up" decisions hold; the 31st applies the latest wanted count (6 by then).
    assert decisions[:30] == [2] * 30
    assert decisions[30] == 6


def test_ray_reads_the_metrics_as_last_reported() -> None:
    ray = RayServe(PARAMS)
    load = LoadHistory().hold(20, 60)
    ray.decide(load.view(ready=2))
    load.hold(200, 9)  # 69 s: the last report (at 60 s) still says 20
    assert ray.decide(load.view(ready=2)).wanted == 2


def test_ray_scales_down_only_after_600_s_of_lower_decisions() -> None:
    ray = RayServe(PARAMS)
    load = LoadHistory().hold(50, 60)
    assert ray.decide(load.view(ready=5)).desired == 5
    load.hold(10, 60)
    desired = 5
    for _ in range(600):
        desired = ray.decide(load.view(ready=5)).desired
        load.hold(10, 1)
    assert desired == 5
    assert ray.decide(load.view(ready=5)).desired == 1


# --- Baseten ---------------------------------------------------------------------------------------


def test_baseten_scales_up_at_once_and_down_by_at_most_half_the_active_replicas_after_the_delay() -> None:
    params = ScalingParams(
        min_replicas=1, max_replicas=50, concurrency_target=10, target_utilization=1.0, scale_down_delay=300
    )
    baseten = Baseten(params)
    load = LoadHistory().hold(100, 60)
    assert baseten.decide(load.view(ready=2)).desired == 10
    load.hold(10, 60)  # wants 1
    assert baseten.decide(load.view(ready=10)).desired == 10  # flagged at t=120
    load.hold(10, 299)
    assert baseten.decide(load.view(ready=10)).desired == 10
    load.hold(10, 1)
    assert baseten.decide(load.view(ready=10)).desired == 5  # 50 % of 10 active
    load.hold(10, 5)
    assert baseten.decide(load.view(ready=5)).desired == 5  # the next step waits another delay
    load.hold(10, 300)
    assert baseten.decide(load.view(ready=5)).desired == 3


def test_baseten_clears_the_flag_when_traffic_returns_before_the_delay() -> None:
    params = ScalingParams(
        min_replicas=1, max_replicas=50, concurrency_target=10, target_utilization=1.0, scale_down_delay=300
    )
    baseten = Baseten(params)
    load = LoadHistory().hold(50, 60)
    assert baseten.decide(load.view(ready=5)).desired == 5
    load.hold(10, 60)
    baseten.decide(load.view(ready=5))
    load.hold(80, 60)  # traffic back: wanted 5 again (the window average is 50 here)
    assert baseten.decide(load.view(ready=5)).desired >= 5
    load.hold(10, 299)  # a fresh flag at 239 s + 60 s of low load...
    assert baseten.decide(load.view(ready=5)).desired == 5


# --- modelscaler adapter ---------------------------------------------------------------------------


def test_the_modelscaler_adapter_passes_arrival_signals_only_when_asked() -> None:
    load = LoadHistory().hold(40, 400, arrival_rate=2.0, service=2.0, capacity=4)
    with_arrivals = Modelscaler(PARAMS).observe(load.view(ready=1, starting=3))
    assert with_arrivals.stable_concurrency == 40
    assert with_arrivals.arrival_concurrency_stable == 4.0
    assert with_arrivals.in_service == 4
    assert (
        with_arrivals.ready_replicas,
        with_arrivals.starting_replicas,
        with_arrivals.current_replicas,
    ) == (
        1,
        3,
        4,
    )
    without = Modelscaler(PARAMS, arrival_sizing=False).observe(load.view(ready=1, starting=3))
    assert without.arrival_concurrency_stable is None
    assert without.in_service is None


def test_the_modelscaler_adapter_sizes_from_arrivals_not_the_backlog() -> None:
    load = LoadHistory().hold(40, 400, arrival_rate=2.0, service=2.0, capacity=4)
    # Arrivals need 4 in flight; the 36 queued add a short drain term (36 x 2 s / 5 s = 14.4):
    # (4 + 14.4) / 10 -> 2 replicas, far from the 4 that sizing for the whole backlog asks for.
    assert Modelscaler(PARAMS).decide(load.view(ready=1, starting=0)).desired == 2
    assert Modelscaler(PARAMS, arrival_sizing=False).decide(load.view(ready=1)).desired == 4


def test_every_registered_policy_builds_and_names_its_source() -> None:
    assert set(DEFAULT_POLICIES) <= set(POLICY_FACTORIES)
    for name in POLICY_FACTORIES:
        policy = build_policy(name, PARAMS)
        assert policy.name == name
        assert policy.source
        assert policy.interval > 0
