"""decide() as timelines: what the replicas do, tick by tick, and why.

Unless a test says otherwise: concurrency target 1 at utilization 0.7 (capacity
0.7 per replica), 60 s stable window, 6 s burst window, 900 s scale-down delay,
max scale-down rate 0.5, ticks every second.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.engine.timeline import Timeline

from modelscaler.engine import Decision, Memory, Mode, Observation, ScalingParams, WindowPoint, decide

PARAMS = ScalingParams(min_replicas=1, max_replicas=50)


def warmed(params: ScalingParams = PARAMS, replicas: int = 1) -> Timeline:
    """A deployment observed since t=-1000 (no start guard left), never scaled down, at `replicas`."""
    memory = Memory(window=(WindowPoint(-1000.0, 0),), observing_since=-1000.0)
    return Timeline(params, replicas=replicas, memory=memory)


class TestScaleUp:
    def test_scales_up_at_once_to_the_wanted_count(self) -> None:
        timeline = warmed()
        decision = timeline.at(0, stable=10.0)
        # A step from 1 to 15 is also a burst: 15 wanted >= 2 x the 1 standing replica.
        assert (decision.desired, decision.reason, decision.mode) == (15, "ScaleUp", Mode.BURST)
        assert decision.message == (
            "stable concurrency 10 over 60 s / capacity 0.7 -> 15; "
            "burst needs 14.29 replicas >= 2 x 1 standing: burst mode entered; 1 -> 15"
        )
        assert decision.inputs["stableConcurrency"] == 10.0
        assert decision.wanted_stable == 15

    def test_float_noise_does_not_add_a_replica(self) -> None:
        # 2.1 / 0.7 is 3.0000000000000004 in floating point.
        assert warmed(replicas=3).at(0, stable=2.1).desired == 3

    def test_rate_limit_allows_at_most_rate_times_current(self) -> None:
        timeline = warmed(replace(PARAMS, max_scale_up_rate=2.0), replicas=3)
        first = timeline.at(0, stable=20.0)  # wants 29
        assert (first.desired, first.reason, first.limited_by) == (6, "ScaleUp", "ScaleUpLimit")
        assert "limited to 6 by max scale-up rate 2 x 3" in first.message
        assert [timeline.at(t, stable=20.0).desired for t in (1, 2)] == [12, 24]
        last = timeline.at(3, stable=20.0)
        assert (last.desired, last.limited_by) == (29, None)

    def test_rate_limit_always_allows_one_more(self) -> None:
        timeline = warmed(replace(PARAMS, max_scale_up_rate=1.1), replicas=2)
        assert timeline.at(0, stable=10.0).desired == 3

    def test_arrival_concurrency_sizes_past_the_cold_start_backlog(self) -> None:
        # 2 ready, 6 starting; the queue has grown the in-flight count to 40, but the
        # arrivals only need 5.6 in flight: size for 8, not 58.
        timeline = warmed(replicas=8)
        decision = timeline.at(
            0,
            stable=40.0,
            burst=40.0,
            ready=2,
            starting=6,
            arrival_stable=5.6,
            arrival_burst=5.6,
            in_service=2.0,
        )
        assert (decision.desired, decision.mode) == (8, Mode.STABLE)
        assert "stable arrival concurrency 5.6 over 60 s / capacity 0.7 -> 8" in decision.message

    def test_a_cold_start_backlog_does_not_inflate_the_scale_up(self) -> None:
        # At t=0 the arrivals step from what 2 replicas carry to what 8 carry (5.6 in
        # flight at 0.7 each); the 6 new replicas take 60 s to start, and meanwhile the
        # queue grows the in-flight count by 1 per second. Sized from the arrivals,
        # the engine asks for 8 and holds 8; sized from the in-flight count (what a
        # queue-inclusive signal gives), it chases the backlog.
        def run(arrival_sizing: bool) -> Timeline:
            timeline = warmed(replicas=2)
            for time in range(0, 121, 2):
                ready = 2 if time < 60 else timeline.replicas
                in_flight = 5.6 + (min(time, 60) - max(0, time - 60)) * 1.0
                arrivals = 5.6 if arrival_sizing else None
                timeline.at(
                    time,
                    stable=in_flight,
                    ready=min(ready, timeline.replicas),
                    starting=max(0, timeline.replicas - ready),
                    arrival_stable=arrivals,
                    arrival_burst=arrivals,
                    in_service=float(2 * 4) if arrival_sizing and time < 60 else None,
                )
            return timeline

        assert max(decision.desired for decision in run(arrival_sizing=True).decisions) == 8
        chasing = run(arrival_sizing=False).decisions
        assert max(decision.desired for decision in chasing) == 50  # 65.6 in flight wants 94: clamped to max

    def test_requests_in_service_are_a_floor_at_the_full_target(self) -> None:
        # The queue is unknown. Arrivals need ceil(2 / 0.7) = 3; the 7 in service need 7 at target 1.
        decision = warmed().at(0, stable=9.0, arrival_stable=2.0, arrival_burst=2.0, in_service=7.0)
        assert decision.desired == 7
        assert decision.message.startswith("in service 7 / target 1 -> 7")

    def test_with_the_queue_known_in_service_is_no_floor(self) -> None:
        # Right after a backlog drains every slot is busy with the queue's requests: with the
        # queue known (empty here) the engine sizes from the arrivals alone.
        timeline = warmed()
        decision = timeline.at(
            0, 9.0, arrival_stable=2.0, arrival_burst=2.0, in_service=7.0, waiting=0.0, service_time=2.0
        )
        assert decision.desired == 3

    def test_no_scale_up_within_the_tolerance(self) -> None:
        timeline = warmed(replicas=10)
        held = timeline.at(0, stable=7.5)  # needs 10.71 replicas: within 10 % of 10
        assert (held.desired, held.reason) == (10, "Steady")
        assert "needs 10.71 replicas, within tolerance 0.1 of 10" in held.message
        assert timeline.at(1, stable=7.8).desired == 12  # needs 11.14: beyond the tolerance

    def test_without_tolerance_every_replica_of_load_scales_up(self) -> None:
        assert warmed(replace(PARAMS, scale_up_tolerance=0.0), replicas=10).at(0, stable=7.5).desired == 11


def backlog_tick(
    timeline: Timeline, time: float, arrival: float, waiting: float, service_time: float = 2.0
) -> Decision:
    """A tick with the queue known: `waiting` requests of `service_time` s behind arrivals of `arrival`."""
    return timeline.at(
        time,
        stable=arrival + waiting,
        arrival_stable=arrival,
        arrival_burst=arrival,
        in_service=arrival,
        waiting=waiting,
        service_time=service_time,
    )


class TestBacklog:
    """The queue known: its drain concurrency is waiting x 2 s / backlog_drain_time 5 s, and arrivals
    plus backlog are sized at the full target 1 (not the capacity 0.7)."""

    def test_replicas_started_for_a_backlog_leave_once_it_has_drained(self) -> None:
        timeline = warmed(replicas=8)
        # Arrivals 5.6 need 8 at the capacity; 21 waiting add 8.4 in flight: 14 / target 1 -> 14.
        up = backlog_tick(timeline, 0, arrival=5.6, waiting=21.0)
        assert (up.desired, up.reason) == (14, "ScaleUp")
        assert up.message.startswith(
            "stable arrival concurrency 5.6 + backlog 8.4 drained in 5 s over 60 s / target 1 -> 14"
        )
        assert up.wanted_unclamped == 8  # what the load wants: the backlog's part is transient
        # 10 still waiting (4 in flight, more than one replica's 0.7): nothing leaves yet.
        held = backlog_tick(timeline, 2, arrival=5.6, waiting=10.0)
        assert (held.desired, held.reason) == (14, "ScaleDownStabilized")
        assert "backlog 4 draining (at least one replica's worth): no scale-down" in held.message
        # 1 waiting (0.4 in flight) is less than a replica's worth: the 6 started for the backlog
        # leave at once, not by delayed steps, since the delay window only held the arrivals' 8.
        drained = backlog_tick(timeline, 4, arrival=5.6, waiting=1.0)
        assert (drained.desired, drained.reason) == (8, "BacklogDrained")
        assert "the 6 replicas above the 8 the load asks for were started for a backlog" in drained.message
        later = [backlog_tick(timeline, t, arrival=5.6, waiting=0.0).desired for t in (6, 900, 2000)]
        assert later == [8, 8, 8]

    def test_a_waiting_request_counts_at_most_once(self) -> None:
        # 10-s requests cannot drain in 5 s: 5 waiting count as 5 x 10 / 10 = 5 in flight, not 10.
        decision = backlog_tick(warmed(replicas=3), 0, arrival=2.1, waiting=5.0, service_time=10.0)
        assert decision.desired == 8  # (2.1 + 5) / target 1 = 7.1
        assert "backlog 5 drained in 5 s" in decision.message

    def test_the_load_peak_before_a_backlog_is_still_held_by_the_delay(self) -> None:
        timeline = warmed(replicas=8)
        assert backlog_tick(timeline, 0, arrival=7.0, waiting=0.0).desired == 10  # the load's own 10
        assert backlog_tick(timeline, 10, arrival=7.0, waiting=25.0).desired == 17  # (7 + 10) / 1
        drained = backlog_tick(timeline, 20, arrival=2.8, waiting=0.0)  # the load falls to 4 as well
        assert (drained.desired, drained.reason) == (10, "BacklogDrained")
        assert [backlog_tick(timeline, t, arrival=2.8, waiting=0.0).desired for t in (500, 919)] == [10, 10]
        # The 10 wanted at t=10 expired at 910; the drop at t=20 was a step down, so the next
        # step comes one delay after it.
        step = backlog_tick(timeline, 920, arrival=2.8, waiting=0.0)
        assert (step.desired, step.reason) == (7, "ScaleDown")

    def test_the_initial_replicas_are_not_taken_for_a_backlog(self) -> None:
        timeline = Timeline(replace(PARAMS, initial_replicas=5), replicas=0)
        assert backlog_tick(timeline, 0, arrival=0.7, waiting=0.0).reason == "Initial"
        assert backlog_tick(timeline, 60, arrival=0.7, waiting=0.0).desired == 5  # observing from here
        step = backlog_tick(timeline, 120, arrival=0.7, waiting=0.0)
        assert (step.desired, step.reason) == (3, "ScaleDown")  # a delayed step: half the excess of 4

    def test_a_restart_during_the_drain_changes_nothing(self) -> None:
        timeline = warmed(replicas=8)
        backlog_tick(timeline, 0, arrival=5.6, waiting=21.0)
        timeline.restart()
        assert backlog_tick(timeline, 4, arrival=5.6, waiting=1.0).reason == "BacklogDrained"


class TestClamp:
    def test_clamped_to_max_says_so_in_figures(self) -> None:
        timeline = warmed(replace(PARAMS, max_replicas=5), replicas=4)
        decision = timeline.at(0, stable=4.2)
        assert (decision.desired, decision.reason, decision.limited_by) == (5, "ScaleUp", "TooManyReplicas")
        assert (
            decision.message
            == "stable concurrency 4.2 over 60 s / capacity 0.7 -> 6; clamped to max 5; 4 -> 5"
        )
        assert decision.wanted_unclamped == 6
        held = timeline.at(1, stable=4.2)
        assert (held.desired, held.reason) == (5, "TooManyReplicas")

    def test_held_at_min_when_idle(self) -> None:
        timeline = warmed(replace(PARAMS, min_replicas=3), replicas=3)
        decision = timeline.at(0, stable=0.0)
        assert (decision.desired, decision.reason, decision.limited_by) == (
            3,
            "TooFewReplicas",
            "TooFewReplicas",
        )

    def test_lowered_max_applies_at_once(self) -> None:
        timeline = warmed(replicas=10)
        timeline.memory = replace(timeline.memory, last_scale_down_time=-10.0)  # a step was just made
        timeline.params = replace(PARAMS, max_replicas=4)
        decision = timeline.at(0, stable=10.0)
        assert (decision.desired, decision.reason, decision.limited_by) == (4, "ScaleDown", "TooManyReplicas")
        assert "above max 4: down to it at once" in decision.message


class TestScaleDownDelay:
    def test_load_drop_waits_the_delay_then_steps_by_half_the_excess(self) -> None:
        timeline = warmed()
        assert timeline.at(0, stable=10.0).desired == 15
        timeline.run(1, 899, stable=0.5)
        held = timeline.decisions[-1]
        assert (held.desired, held.reason) == (15, "ScaleDownStabilized")
        assert "15 wanted 899 s ago holds for 1 s more (scale-down delay 900 s)" in held.message
        assert timeline.at(900, stable=0.5).desired == 15
        step = timeline.at(901, stable=0.5)
        assert (step.desired, step.reason, step.limited_by) == (8, "ScaleDown", "ScaleDownLimit")
        assert "step removes 7 of 14 excess (max scale-down rate 0.5)" in step.message

    def test_steps_are_one_delay_apart_until_the_target(self) -> None:
        timeline = warmed()
        timeline.at(0, stable=10.0)
        timeline.run(1, 5000, stable=0.5)
        assert timeline.changes() == [
            (0, 1, 15),
            (901, 15, 8),
            (1801, 8, 5),
            (2701, 5, 3),
            (3601, 3, 2),
            (4501, 2, 1),
        ]
        between = timeline.decisions[timeline.times.index(1001)]
        assert between.reason == "ScaleDownStabilized"
        assert "last step down 100 s ago; next step in 800 s (steps 900 s apart)" in between.message

    def test_the_target_is_the_max_wanted_over_the_delay(self) -> None:
        # Load 10 (15 replicas) at t=0, 5 (8 replicas) at t=300, then idle: at t=901 the
        # window's max is the 8 wanted at t=300, so the step removes half of that excess of
        # 7 (3 replicas); one delay later the window's max is 1 and the step removes 5 of 11.
        timeline = warmed()
        timeline.at(0, stable=10.0)
        timeline.run(1, 299, stable=0.0)
        timeline.at(300, stable=5.0)
        timeline.run(301, 1801, stable=0.0)
        assert timeline.changes()[:3] == [(0, 1, 15), (901, 15, 12), (1801, 12, 7)]

    def test_a_step_removes_at_least_one_replica(self) -> None:
        timeline = warmed(replace(PARAMS, max_scale_down_rate=0.1), replicas=5)
        timeline.run(0, 1000, stable=0.0)  # 10 % of an excess of 4 is 0.4: one replica per step
        assert timeline.changes() == [(0, 5, 4), (900, 4, 3)]

    def test_full_rate_steps_straight_to_the_target(self) -> None:
        timeline = warmed(replace(PARAMS, max_scale_down_rate=1.0))
        timeline.at(0, stable=10.0)
        decision = timeline.run(1, 901, stable=2.0)
        assert (decision.current, decision.desired, decision.limited_by) == (15, 3, None)

    def test_a_new_peak_during_the_delay_restarts_it(self) -> None:
        timeline = warmed()
        timeline.at(0, stable=10.0)
        timeline.run(1, 599, stable=0.0)
        timeline.at(600, stable=10.0)
        timeline.run(601, 1500, stable=0.0)
        assert timeline.decisions[-1].desired == 15
        assert timeline.at(1501, stable=0.0).desired == 8

    def test_zero_delay_scales_down_at_once_by_steps_each_tick(self) -> None:
        timeline = Timeline(replace(PARAMS, scale_down_delay=0.0), replicas=15)
        assert [timeline.at(t, stable=0.0).desired for t in (0, 1, 2, 3, 4, 5)] == [8, 5, 3, 2, 1, 1]


class TestBurstMode:
    def test_entered_when_the_burst_window_wants_twice_the_standing_replicas(self) -> None:
        timeline = warmed(replicas=2)
        decision = timeline.at(0, stable=1.4, burst=5.0)  # stable wants 2, burst needs 7.14 >= 2 x 2
        assert (decision.desired, decision.mode) == (8, Mode.BURST)
        assert "burst needs 7.14 replicas >= 2 x 2 standing: burst mode entered" in decision.message
        assert decision.message.startswith("burst concurrency 5 over 6 s / capacity 0.7 -> 8")

    def test_below_the_threshold_the_burst_window_is_noise(self) -> None:
        timeline = warmed(replicas=4)
        decision = timeline.at(0, stable=2.8, burst=5.5)  # burst needs 7.86 < 2 x 4
        assert (decision.desired, decision.mode) == (4, Mode.STABLE)

    def test_the_threshold_compares_the_load_before_rounding(self) -> None:
        # 0.8 in flight needs 1.14 replicas: rounded up that is 2 = 2 x 1, but it is no burst.
        timeline = warmed()
        assert timeline.at(0, stable=0.5, burst=0.8).mode == Mode.STABLE
        assert timeline.at(1, stable=0.5, burst=1.4).mode == Mode.BURST  # exactly 2 x 1

    def test_starting_replicas_count_as_capacity_on_the_way(self) -> None:
        timeline = warmed(replicas=8)
        # 2 ready and 6 starting: the burst's 12 is under 2 x 8, so no burst mode.
        decision = timeline.at(0, stable=5.6, burst=8.4, ready=2, starting=6)
        assert (decision.desired, decision.mode) == (8, Mode.STABLE)

    def test_only_rises_then_leaves_after_a_stable_window_below_threshold(self) -> None:
        timeline = warmed(replace(PARAMS, scale_down_delay=0.0), replicas=2)
        assert timeline.at(0, stable=1.4, burst=5.0).desired == 8
        assert timeline.at(10, stable=1.4, burst=14.0).desired == 20  # still bursting: rises
        held = timeline.at(20, stable=1.4, burst=1.4)  # below threshold from now
        assert (held.desired, held.mode, held.reason) == (20, Mode.BURST, "ScaleDownStabilized")
        assert timeline.at(79, stable=1.4, burst=1.4).mode == Mode.BURST
        left = timeline.at(80, stable=1.4, burst=1.4)
        assert left.mode == Mode.STABLE
        assert "burst below threshold for 60 s: burst mode left" in left.message
        assert left.desired == 11  # steps down (delay 0): half of the 18 excess

    def test_a_new_burst_resets_the_time_below(self) -> None:
        timeline = warmed(replace(PARAMS, scale_down_delay=0.0), replicas=2)
        timeline.at(0, stable=1.4, burst=5.0)
        timeline.at(10, stable=1.4, burst=1.4)
        timeline.at(50, stable=1.4, burst=12.0)  # 18 >= 2 x 8 again
        assert timeline.at(100, stable=1.4, burst=1.4).mode == Mode.BURST
        assert timeline.at(110, stable=1.4, burst=1.4).mode == Mode.BURST
        assert timeline.at(160, stable=1.4, burst=1.4).mode == Mode.STABLE

    def test_burst_peaks_hold_standing_capacity_through_the_delay(self) -> None:
        timeline = warmed(replicas=2)
        timeline.at(0, stable=1.4, burst=5.0)
        timeline.run(1, 900, stable=1.4)
        assert timeline.decisions[-1].desired == 8
        assert timeline.at(901, stable=1.4).desired == 5

    def test_following_the_burst_window_in_stable_mode_is_a_setting(self) -> None:
        timeline = warmed(replace(PARAMS, follow_burst_in_stable_mode=True), replicas=4)
        decision = timeline.at(0, stable=2.1, burst=4.9)
        assert (decision.desired, decision.mode) == (7, Mode.STABLE)


class TestUnknownData:
    def test_unknown_data_holds_and_keeps_memory(self) -> None:
        timeline = warmed(replicas=6)
        before = timeline.memory
        decision = decide(
            PARAMS,
            Observation(
                time=0, ready_replicas=6, starting_replicas=0, current_replicas=6, unknown_reason="timeout"
            ),
            before,
            0.0,
        )[0]
        assert (decision.desired, decision.valid, decision.mode) == (6, False, Mode.HOLDING)
        assert decision.reason == "MetricsUnavailable"
        assert decision.message == "concurrency unknown (timeout); holding 6"
        timeline.at(0, stable=None, burst=None)
        assert timeline.memory == before

    def test_a_known_burst_window_may_scale_up(self) -> None:
        timeline = warmed(replicas=2)
        decision = timeline.at(0, stable=None, burst=7.0)
        assert (decision.desired, decision.reason, decision.valid) == (10, "ScaleUp", True)
        assert decision.message.startswith(
            "stable concurrency unknown (no data); burst concurrency 7 over 6 s"
        )

    def test_partial_data_never_scales_down(self) -> None:
        timeline = warmed(replicas=10)
        timeline.run(0, 3000, stable=0.0)
        assert timeline.replicas < 10
        timeline = warmed(replicas=10)
        for time in range(3000):
            decision = timeline.at(time, stable=0.0, burst=None)
            assert (decision.desired, decision.valid, decision.mode) == (10, False, Mode.HOLDING)

    def test_a_partial_scale_up_is_held_by_the_delay(self) -> None:
        timeline = warmed(replicas=2)
        timeline.at(0, stable=None, burst=7.0)
        timeline.run(1, 900, stable=0.7)
        assert timeline.decisions[-1].desired == 10
        assert timeline.at(901, stable=0.7).desired == 6


class TestPausedAndInitial:
    def test_paused_holds_whatever_the_load(self) -> None:
        timeline = warmed(replace(PARAMS, paused=True), replicas=3)
        before = timeline.memory
        for load in (0.0, 30.0, None):
            decision = timeline.at(0, stable=load)
            assert (decision.desired, decision.mode, decision.reason) == (3, Mode.PAUSED, "Paused")
        assert timeline.memory == before

    @pytest.mark.parametrize(
        ("min_replicas", "initial", "expected"),
        [(1, None, 1), (0, None, 1), (3, None, 3), (1, 4, 4), (0, 0, 0), (1, 80, 50)],
    )
    def test_creation_starts_the_initial_replicas(
        self, min_replicas: int, initial: int | None, expected: int
    ) -> None:
        timeline = Timeline(replace(PARAMS, min_replicas=min_replicas, initial_replicas=initial), replicas=0)
        decision = timeline.at(0, stable=None)
        assert (decision.desired, decision.reason) == (expected, "Initial")
        assert timeline.memory.observing_since == 0

    def test_creation_under_known_load_starts_what_the_load_needs(self) -> None:
        timeline = Timeline(PARAMS, replicas=0)
        assert timeline.at(0, stable=3.5).desired == 5

    def test_scales_from_zero_when_a_known_signal_shows_demand(self) -> None:
        timeline = warmed(replace(PARAMS, min_replicas=0, scale_down_delay=0.0), replicas=1)
        assert timeline.at(0, stable=0.0).desired == 0
        assert timeline.at(1, stable=None).desired == 0  # no pods, no metrics: stays at zero
        decision = timeline.at(2, stable=2.0)
        assert (decision.current, decision.desired, decision.reason) == (0, 3, "ScaleUp")


class TestRestart:
    def test_empty_memory_makes_no_rash_decision(self) -> None:
        # The operator restarts and finds no window in status: it observes one stable
        # window (60 s) before any scale-down.
        timeline = Timeline(PARAMS, replicas=10)
        timeline.run(1000, 1059, stable=0.0)
        assert {d.desired for d in timeline.decisions} == {10}
        assert "observing for 59 s of 60 s before any scale-down" in timeline.decisions[-1].message
        assert timeline.at(1060, stable=0.0).desired == 6  # 4 of the 9 excess

    def test_a_pending_delay_lands_at_its_original_time(self) -> None:
        straight = warmed()
        restarted = warmed()
        for timeline in (straight, restarted):
            timeline.at(0, stable=10.0)
            timeline.run(1, 500, stable=0.0)
        restarted.restart()
        for timeline in (straight, restarted):
            timeline.run(501, 2000, stable=0.0)
        assert straight.decisions == restarted.decisions
        assert restarted.changes()[:3] == [(0, 1, 15), (901, 15, 8), (1801, 8, 5)]

    def test_memory_serialises_compactly(self) -> None:
        timeline = warmed()
        for time in range(0, 900):
            timeline.at(time, stable=(time % 7) * 1.0)  # a saw-tooth of 7 distinct loads
        wire = timeline.memory.to_dict()
        assert isinstance(wire["window"], list)
        assert len(wire["window"]) <= 7
        assert Memory.from_dict(wire) == timeline.memory

    def test_window_never_holds_more_than_max_plus_one_points(self) -> None:
        timeline = warmed(replace(PARAMS, max_replicas=5))
        for time in range(0, 200):
            timeline.at(time, stable=max(0.0, 100.0 - time))  # a slow decline from 143 wanted
        assert len(timeline.memory.window) <= 6
