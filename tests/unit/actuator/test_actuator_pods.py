"""summarise_pods: Ready vs starting, restarts with their cause, cold-start times."""

from __future__ import annotations

from tests.unit.actuator.actuator_samples import EPOCH, crashed_container, make_pod

from modelscaler.actuator.pods import parse_time, summarise_pods
from modelscaler.engine.history import PodStart, RestartEvent

T0 = EPOCH.timestamp()


def test_ready_and_starting_counts_leave_out_terminating_and_finished_pods() -> None:
    pods = [
        make_pod("a", ready=True),
        make_pod("b", ready=True),
        make_pod("c", ready=False),
        make_pod("d", ready=True, deleting=True),
        make_pod("e", ready=False, deleting=True),
        make_pod("f", ready=False, phase="Succeeded"),
    ]

    summary = summarise_pods(pods)

    assert (summary.ready, summary.starting, summary.terminating) == (2, 1, 2)


def test_pod_without_status_is_starting() -> None:
    summary = summarise_pods([{"metadata": {"name": "new", "creationTimestamp": "2026-01-01T00:00:00Z"}}])

    assert (summary.ready, summary.starting, summary.restarts, summary.starts) == (0, 1, (), ())


def test_oom_kill_of_a_ready_container_is_a_restart_that_was_ready() -> None:
    # Ready from 40 s; OOM-killed at 300 s, when Ready flipped to False; now in back-off.
    container = crashed_container(restarts=1, reason="OOMKilled", exit_code=137, started=10, finished=300)
    pod = make_pod("a", ready=False, ready_changed=300, containers=[container], template_hash="abc")

    summary = summarise_pods([pod])

    assert summary.restarts == (
        RestartEvent(
            time=T0 + 300,
            pod="a",
            container="server",
            reason="OOMKilled",
            exit_code=137,
            was_ready=True,
            liveness_failed=False,
            pod_template_hash="abc",
        ),
    )
    assert summary.restart_count == 1
    assert summary.waiting_reasons == {"CrashLoopBackOff": 1}


def test_crash_while_loading_is_a_restart_that_was_never_ready() -> None:
    # Ready has been False since the pod was created: the run never became Ready.
    container = crashed_container(restarts=4, reason="Error", exit_code=1, started=200, finished=230)
    pod = make_pod("a", ready=False, containers=[container])

    (restart,) = summarise_pods([pod]).restarts

    assert restart.was_ready is False
    assert (restart.reason, restart.exit_code, restart.time) == ("Error", 1, T0 + 230)


def test_crash_while_reloading_after_an_earlier_ready_run_is_never_ready() -> None:
    # Ready until the first crash at 100 s (the last flip); the second run started at
    # 110 s and crashed at 130 s while loading, without Ready changing again.
    container = crashed_container(restarts=2, reason="Error", exit_code=1, started=110, finished=130)
    pod = make_pod("a", ready=False, ready_changed=100, containers=[container])

    (restart,) = summarise_pods([pod]).restarts

    assert restart.was_ready is False


def test_readiness_lost_just_before_the_kill_counts_as_ready() -> None:
    # The readiness probe failed at 290 s, the container died at 300 s.
    container = crashed_container(restarts=1, reason="Error", exit_code=137, started=10, finished=300)
    pod = make_pod("a", ready=False, ready_changed=290, containers=[container])

    (restart,) = summarise_pods([pod]).restarts

    assert restart.was_ready is True


def test_pod_ready_again_after_a_restart_is_not_called_a_load_crash() -> None:
    container = crashed_container(restarts=1, reason="Error", exit_code=1, started=5, finished=20)
    container.update(ready=True, state={"running": {"startedAt": "2026-01-01T00:00:21Z"}})
    pod = make_pod("a", ready=True, ready_changed=60, containers=[container])

    summary = summarise_pods([pod])

    assert [r.was_ready for r in summary.restarts] == [True]
    assert summary.ready == 1
    assert summary.starts == (), "the Ready time of a restarted pod measures the crash loop, not a cold start"


def test_missing_started_at_falls_back_to_the_pods_start_time() -> None:
    container = crashed_container(restarts=1, reason="Error", exit_code=1, started=0, finished=30)
    del container["lastState"]["terminated"]["startedAt"]
    never_ready = make_pod("a", created=5, ready=False, containers=[container])
    was_ready = make_pod("b", created=5, ready=False, ready_changed=30, containers=[container])

    restarts = summarise_pods([never_ready, was_ready]).restarts

    assert {r.pod: r.was_ready for r in restarts} == {"a": False, "b": True}


def test_liveness_kill_is_recognised_only_from_its_message() -> None:
    by_message = crashed_container(
        restarts=1,
        reason="Error",
        exit_code=137,
        started=10,
        finished=300,
        message="Liveness probe failed: HTTP probe failed with statuscode: 500",
    )
    bare_sigkill = crashed_container(restarts=1, reason="Error", exit_code=137, started=10, finished=300)
    pods = [
        make_pod("probed", ready=False, ready_changed=300, containers=[by_message]),
        make_pod("killed", ready=False, ready_changed=300, containers=[bare_sigkill]),
    ]

    restarts = summarise_pods(pods).restarts

    assert {r.pod: r.liveness_failed for r in restarts} == {"probed": True, "killed": False}


def test_termination_without_finish_time_is_counted_but_not_timed() -> None:
    container = crashed_container(restarts=2, reason="Error", exit_code=1, started=10, finished=20)
    del container["lastState"]["terminated"]["finishedAt"]

    summary = summarise_pods([make_pod("a", ready=False, containers=[container])])

    assert (summary.restart_count, summary.restarts) == (2, ())


def test_restarts_of_terminating_pods_are_reported_and_sorted_by_time() -> None:
    late = crashed_container(restarts=1, reason="OOMKilled", exit_code=137, started=10, finished=500)
    early = crashed_container(restarts=3, reason="Error", exit_code=2, started=10, finished=50)
    pods = [
        make_pod("late", ready=False, ready_changed=500, containers=[late], deleting=True),
        make_pod("early", ready=False, containers=[early]),
    ]

    summary = summarise_pods(pods)

    assert [r.pod for r in summary.restarts] == ["early", "late"]
    assert summary.restart_count == 4


def test_cold_start_is_creation_to_ready_for_pods_that_never_restarted() -> None:
    pods = [
        make_pod("slow", created=100, ready=True, ready_changed=190),
        make_pod("fast", created=100, ready=True, ready_changed=130),
        make_pod("loading", created=100, ready=False),
    ]

    starts = summarise_pods(pods).starts

    assert starts == (
        PodStart(time=T0 + 130, pod="fast", seconds_to_ready=30.0),
        PodStart(time=T0 + 190, pod="slow", seconds_to_ready=90.0),
    )


def test_parse_time_reads_rfc3339_and_rejects_the_rest() -> None:
    assert parse_time("2026-01-01T00:00:10Z") == T0 + 10
    assert parse_time("2026-01-01T00:00:10.5+00:00") == T0 + 10.5
    assert parse_time("yesterday") is None
    assert parse_time(None) is None
