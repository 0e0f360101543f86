"""The control loop's pure step, as timelines: what it scales, what it writes, what it says."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelscaler.actuator.pods import PodSummary
from modelscaler.engine.types import Observation
from modelscaler.runtime.reconcile import Inputs, Readings, Tracked, merge_patch, reconcile

T0 = 1_800_000_000.0


def md_body(**autoscaling: Any) -> dict[str, Any]:
    spec_autoscaling = {
        "minReplicas": 1,
        "maxReplicas": 10,
        "concurrencyTarget": 1,
        "targetUtilization": 1.0,
        "autoscalingWindow": "10s",
        "scaleDownDelay": "30s",
        "panicWindow": "2s",
        **autoscaling,
    }
    return {
        "apiVersion": "serving.modelscaler.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "demo", "namespace": "team-a", "uid": "u-1", "generation": 3},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "example/server:1",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                }
            },
            "autoscaling": spec_autoscaling,
        },
    }


def observe(now: float, concurrency: float | None, ready: int) -> Observation:
    return Observation(
        time=now,
        ready_replicas=ready,
        starting_replicas=0,
        current_replicas=ready,
        stable_concurrency=concurrency,
        burst_concurrency=concurrency,
        arrival_concurrency_stable=concurrency,
        arrival_concurrency_burst=concurrency,
        unknown_reason=None if concurrency is not None else "query concurrency failed: connection refused",
    )


def step(
    tracked: Tracked,
    body: dict[str, Any],
    now: float,
    concurrency: float | None,
    deployed: int,
    competing: tuple[str, ...] = (),
) -> Any:
    ready = deployed
    plan = reconcile(
        Inputs(
            body=body,
            deployment={"replicas": deployed, "status_replicas": deployed, "owners": ["u-1"]},
            pods=PodSummary(ready=ready),
            observation=observe(now, concurrency, ready),
            readings=Readings(latency_p95=0.2),
            competing=competing,
        ),
        tracked,
        now,
    )
    if plan.status is not None:
        tracked.written_status = plan.status
        tracked.written_at = now
    return plan


def test_scales_up_at_once_and_explains_it_in_status_and_an_event() -> None:
    tracked = Tracked()
    body = md_body()
    step(tracked, body, T0, 1.0, deployed=1)
    plan = step(tracked, body, T0 + 1, 6.0, deployed=1)
    assert plan.scale_to == 6
    assert plan.status is not None
    assert plan.status["desiredReplicas"] == 6
    assert plan.status["lastDecision"]["from"] == 1
    assert plan.status["lastDecision"]["to"] == 6
    assert plan.status["history"][-1]["to"] == 6
    assert any(e.reason == "ScaledUp" and "1 -> 6" in e.message for e in plan.events)
    types = {c["type"]: c for c in plan.status["conditions"]}
    assert types["ScalingActive"]["status"] == "True"
    assert types["Ready"]["status"] == "True"
    assert plan.status["diagnosis"] == "Healthy"


def test_unknown_data_holds_replicas_and_says_why() -> None:
    tracked = Tracked()
    body = md_body()
    step(tracked, body, T0, 4.0, deployed=1)  # -> 4
    for i in range(1, 20):
        plan = step(tracked, body, T0 + i, None, deployed=4)
        assert plan.scale_to is None
        assert tracked.desired == 4
    assert tracked.written_status is not None
    scaling_active = next(c for c in tracked.written_status["conditions"] if c["type"] == "ScalingActive")
    assert scaling_active["status"] == "False"
    assert "connection refused" in scaling_active["message"]
    assert tracked.written_status["mode"] == "Holding"


def test_restart_from_status_keeps_the_pending_scale_down_time() -> None:
    """An operator restart (new Tracked read back from the written status) scales down at the same tick."""
    body = md_body()

    def run(restart_at: float | None) -> float | None:
        tracked = Tracked()
        deployed = 1
        for i in range(0, 80):
            now = T0 + i
            if restart_at is not None and now == restart_at:
                status = copy.deepcopy(tracked.written_status)
                tracked = Tracked.from_status(status)
            load = 5.0 if i < 10 else 1.0
            plan = step(tracked, body, now, load, deployed=deployed)
            if plan.scale_to is not None:
                if plan.scale_to < deployed:
                    return now
                deployed = plan.scale_to
        return None

    without = run(None)
    assert without is not None
    # A restart in the middle of the delay changes nothing about when the step down happens.
    assert run(T0 + 25) == without


def test_manual_scale_is_overridden_with_a_warning() -> None:
    tracked = Tracked()
    body = md_body()
    step(tracked, body, T0, 3.0, deployed=1)  # -> 3
    plan = step(tracked, body, T0 + 1, 3.0, deployed=7)  # someone ran kubectl scale --replicas=7
    assert plan.scale_to == 3
    assert any(e.reason == "ManualScaleOverridden" and e.type == "Warning" for e in plan.events)


def test_competing_hpa_stops_writes_and_is_reported_once() -> None:
    tracked = Tracked()
    body = md_body()
    first = step(tracked, body, T0, 5.0, deployed=1, competing=("HorizontalPodAutoscaler/demo",))
    assert first.scale_to is None
    assert [e.reason for e in first.events] == ["ConflictingScaler"]
    second = step(tracked, body, T0 + 1, 5.0, deployed=1, competing=("HorizontalPodAutoscaler/demo",))
    assert second.scale_to is None
    assert "ConflictingScaler" not in [e.reason for e in second.events]
    able = next(c for c in tracked.conditions if c.type == "AbleToScale")
    assert able.status == "False"
    assert able.reason == "ConflictingScaler"


def test_invalid_spec_becomes_a_condition_not_a_crash() -> None:
    tracked = Tracked()
    body = md_body(minReplicas=5, maxReplicas=2)
    plan = step(tracked, body, T0, 1.0, deployed=1)
    assert plan.scale_to is None
    assert plan.status is not None
    ready = next(c for c in plan.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "InvalidSpec"
    assert "minReplicas" in ready["message"] or "maxReplicas" in ready["message"]


def test_no_status_write_when_nothing_changed() -> None:
    tracked = Tracked()
    body = md_body()
    step(tracked, body, T0, 2.0, deployed=1)
    step(tracked, body, T0 + 1, 2.0, deployed=2)
    quiet = [step(tracked, body, T0 + 2 + i, 2.0, deployed=2).status for i in range(5)]
    assert quiet == [None] * 5


def test_missing_deployment_is_left_to_kopf_at_first_then_recreated() -> None:
    tracked = Tracked()

    def tick(now: float) -> Any:
        return reconcile(
            Inputs(body=md_body(), deployment=None, pods=PodSummary(), observation=None, readings=Readings()),
            tracked,
            now,
        )

    assert not tick(T0).ensure_owned  # a new object: kopf's create handler is making it
    assert not tick(T0 + 10).ensure_owned
    assert tick(T0 + 30).ensure_owned  # still missing after the grace (or deleted by hand): the loop acts


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"c": {"x": 1, "y": 2}}, {"c": {"x": 1}}, {"c": {"y": None}}),
        ({"l": [1, 2]}, {"l": [1]}, {"l": [1]}),
        (None, {"a": 1}, {"a": 1}),
        ({"a": 1}, {"a": 1}, {}),
    ],
)
def test_merge_patch(old: dict[str, Any] | None, new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert merge_patch(old, new) == patch


def test_backlog_is_not_sized_for_while_arrivals_are_missing_for_a_moment() -> None:
    """Right after a cold start the in-flight count is the backlog: without arrivals, hold, don't chase it."""
    tracked = Tracked()
    body = md_body()  # stable window 10 s
    backlog = Observation(
        time=T0,
        ready_replicas=1,
        starting_replicas=0,
        current_replicas=1,
        stable_concurrency=40.0,
        burst_concurrency=40.0,
    )

    def tick(now: float, observation: Observation) -> Any:
        return reconcile(
            Inputs(
                body=body,
                deployment={"replicas": 1, "status_replicas": 1, "owners": ["u-1"]},
                pods=PodSummary(ready=1),
                observation=observation,
                readings=Readings(),
            ),
            tracked,
            now,
        )

    assert tick(T0, backlog).scale_to is None  # series too new: hold
    assert tracked.desired == 1
    # Arrivals appear: size from them (1 replica), not from the backlog of 40.
    arrivals = Observation(
        time=T0 + 2,
        ready_replicas=1,
        starting_replicas=0,
        current_replicas=1,
        stable_concurrency=40.0,
        burst_concurrency=40.0,
        arrival_concurrency_stable=1.0,
        arrival_concurrency_burst=1.0,
    )
    assert tick(T0 + 2, arrivals).scale_to is None
    # A gap in the arrival signal later on holds as well.
    assert tick(T0 + 30, backlog).scale_to is None
    # A server that never exports arrivals is sized from in-flight once the first window has passed.
    fresh = Tracked()
    tracked = fresh
    tick(T0, backlog)
    plan = tick(
        T0 + 11,
        Observation(
            time=T0 + 11,
            ready_replicas=1,
            starting_replicas=0,
            current_replicas=1,
            stable_concurrency=6.0,
            burst_concurrency=6.0,
        ),
    )
    assert plan.scale_to == 6
