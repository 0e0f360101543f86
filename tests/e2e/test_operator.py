"""The operator end to end: real kube-apiserver and kwok pods, real Prometheus, the traffic
simulator, `modelscaler run` as a process. Compressed time: 1 s tick and scrape, 10 s window,
20 s scale-down delay, 3 s cold start. Waits are bounds on convergence, not speed assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hack.trafficsim.client import TrafficSimProcess
from tests.e2e.helpers import (
    OperatorFactory,
    condition,
    deployment_replicas,
    get_json,
    model_deployment,
    wait_for_replicas,
)
from tests.support.cluster import Cluster, Prometheus, wait_for

NAME = "demo"
# Service 0.5 s, a pod serves 4 at once: concurrency = rate x 0.5.
LOW = {"engine": "generic", "rate": 2.0, "service": {"kind": "constant", "seconds": 0.5}, "capacity": 4}
HIGH = {**LOW, "rate": 20.0}  # concurrency 10 -> 5 replicas at capacity 2


class ReplicaRecorder:
    """Polls the Deployment's spec.replicas in a thread: a timeline of (monotonic time, replicas)."""

    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            replicas = deployment_replicas(self.cluster, self.namespace, self.name)
            if replicas is not None:
                self.samples.append((time.monotonic(), replicas))
            self._stop.wait(0.5)

    def changes(self, since: float = 0.0) -> list[tuple[float, int, int]]:
        """(time, from, to) for every change after `since`."""
        out = []
        for (_, before), (t, after) in zip(self.samples, self.samples[1:], strict=False):
            if after != before and t >= since:
                out.append((t, before, after))
        return out

    def minimum(self, since: float) -> int:
        return min(r for t, r in self.samples if t >= since)

    def first_time(self, since: float, predicate: Any) -> float | None:
        """When replicas first satisfied `predicate` at or after `since`."""
        return next((t for t, r in self.samples if t >= since and predicate(r)), None)

    @contextmanager
    def running(self) -> Iterator[ReplicaRecorder]:
        replicas = deployment_replicas(self.cluster, self.namespace, self.name)
        if replicas is not None:
            self.samples.append((time.monotonic(), replicas))
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=5)


def apply_md(cluster: Cluster, namespace: str, **settings: Any) -> None:
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=model_deployment(NAME, **settings))


def md_object(cluster: Cluster, namespace: str) -> dict[str, Any]:
    return get_json(cluster, namespace, "modeldeployment", NAME)


def events(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(cluster, namespace, "events")["items"]
    return [e for e in items if e.get("involvedObject", {}).get("kind") == "ModelDeployment"]


def settle_at(cluster: Cluster, namespace: str, replicas: int, timeout: float = 90) -> None:
    wait_for_replicas(cluster, namespace, NAME, lambda r: r == replicas, timeout, f"{replicas} replicas")


def test_load_step_scales_up_fast_then_down_after_the_delay_in_steps(
    cluster: Cluster, namespace: str, traffic: TrafficSimProcess, operators: OperatorFactory
) -> None:
    apply_md(cluster, namespace)
    traffic.set_profile(namespace, NAME, LOW)
    operators()
    settle_at(cluster, namespace, 1)

    recorder = ReplicaRecorder(cluster, namespace, NAME)
    with recorder.running():
        stepped_up = time.monotonic()
        traffic.set_profile(namespace, NAME, HIGH)
        # concurrency 10 / capacity 2 -> 5 replicas (burst mode may briefly want more).
        wait_for_replicas(cluster, namespace, NAME, lambda r: r >= 5, 60, "scale-up under 10x load")
        wait_for(
            lambda: (md_object(cluster, namespace).get("status", {}).get("readyReplicas") or 0) >= 5,
            timeout=60,
            message="the new replicas to turn Ready after their 3 s cold start",
        )
        # Latency recovers once the replicas are Ready (p95 over the 10 s window).
        wait_for(
            lambda: (
                (md_object(cluster, namespace).get("status", {}).get("latency", {}).get("p95") or 99) < 1.5
            ),
            timeout=60,
            message="p95 latency to recover below 1.5 s",
        )
        peak = deployment_replicas(cluster, namespace, NAME)
        assert peak is not None
        rose_at = recorder.first_time(stepped_up, lambda r: r > 1)
        assert rose_at is not None
        rose_after = rose_at - stepped_up

        dropped = time.monotonic()
        traffic.set_profile(namespace, NAME, LOW)
        # Demand falls to 1 replica; what 10x load needed (5) is kept for the whole 20 s delay
        # (counts above 5 wanted during the cold start may step down sooner: they were wanted earlier).
        below_steady = wait_for(
            lambda: recorder.first_time(dropped, lambda r: r < 5),
            timeout=120,
            interval=0.5,
            message="replicas to fall below the 5 that the high load needed",
        )
        assert below_steady - dropped >= 20 - 1, recorder.changes(dropped)
        first_down = next((t, f, to) for t, f, to in recorder.changes(dropped) if to < f)
        # One step removes at most maxScaleDownRate (50 %) of the excess over the 1 replica wanted.
        _, before, after = first_down
        assert before - after <= max(1, (before - 1) // 2 + (before - 1) % 2), (before, after)
        assert after > 1 or before <= 2
        # The next step comes no sooner than one delay later.
        second = wait_for(
            lambda: next(((t, f, to) for t, f, to in recorder.changes(first_down[0] + 0.1) if to < f), None),
            timeout=90,
            interval=0.5,
            message="the second scale-down step",
        )
        assert second[0] - first_down[0] >= 19, (first_down, second)
    print(
        f"scale-up began {rose_after:.1f} s after the load step; peak {peak}; changes {recorder.changes(0)}"
    )

    md = md_object(cluster, namespace)
    history = md["status"]["history"]
    assert any(h["to"] > h["from"] for h in history)
    assert any(h["to"] < h["from"] for h in history)
    assert md["status"]["lastDecision"]["message"]
    reasons = {e["reason"] for e in events(cluster, namespace)}
    assert {"ScaledUp", "ScaledDown"} <= reasons


def next_step_down_due(status: dict[str, Any], current: int, delay: float) -> float | None:
    """When the engine's next step below `current` is due, read from the persisted memory (Unix time).

    The engine's rule (engine/decide.py): a step down needs the window's maximum below `current` —
    every point wanting `current` or more has expired, `delay` after its time — and, after a previous
    step, one whole delay since it. None when no scale-down is pending in what status remembers.
    """
    memory = status.get("scaleDown") or {}
    holding = [float(t) for t, wanted in memory.get("window", []) if wanted >= current]
    due = [max(holding) + delay] if holding else []
    if memory.get("lastScaleDownTime") is not None:
        due.append(float(memory["lastScaleDownTime"]) + delay)
    lower = [w for _, w in memory.get("window", []) if w < current]
    return max(due) if due and lower else None


def test_kill_9_mid_delay_keeps_the_original_scale_down_time(
    cluster: Cluster, namespace: str, traffic: TrafficSimProcess, operators: OperatorFactory
) -> None:
    delay = 60.0
    apply_md(cluster, namespace, scaleDownDelay="60s")
    traffic.set_profile(namespace, NAME, HIGH)
    operator = operators()
    wait_for_replicas(cluster, namespace, NAME, lambda r: r >= 5, 90, "scale-up under load")
    time.sleep(15)  # the stable window sees the high load: its count enters the delay window
    traffic.set_profile(namespace, NAME, LOW)

    def pending() -> tuple[float, int] | None:
        """(due, replicas now) once a step down is pending with room to kill and restart before it."""
        replicas = deployment_replicas(cluster, namespace, NAME)
        status = md_object(cluster, namespace).get("status", {})
        if replicas is None or status.get("desiredReplicas") != replicas:
            return None
        due = next_step_down_due(status, replicas, delay)
        # The standby needs a lease duration (4 s) and a tick to take over: kill well before it is due.
        if due is None or due - time.time() < 20:
            return None
        return due, replicas

    due, replicas = wait_for(pending, timeout=150, interval=0.5, message="a scale-down pending in status")
    operator.kill()  # SIGKILL in the middle of the delay: no clean shutdown, no Lease release
    time.sleep(2)
    operators(identity="operator-b")

    def first_lower() -> float | None:
        now = deployment_replicas(cluster, namespace, NAME)
        return time.time() if now is not None and now < replicas else None

    happened = wait_for(first_lower, timeout=120, interval=0.25, message="the scale-down after the restart")
    # At the original time: within a tick (1 s) plus the polling and kubectl latency of this test; not
    # earlier, and not a whole delay later as an operator that forgot its window would do.
    assert happened >= due - 1.5, (happened, due)
    assert happened <= due + 3, (happened, due)
    print(f"scale-down {happened - due:+.2f} s from its original time after a kill -9 and a restart")


def test_prometheus_down_holds_replicas_and_recovers(
    cluster: Cluster,
    namespace: str,
    prometheus: Prometheus,
    traffic: TrafficSimProcess,
    operators: OperatorFactory,
) -> None:
    apply_md(cluster, namespace, scaleDownDelay="5s")
    traffic.set_profile(namespace, NAME, HIGH)
    operators()
    wait_for_replicas(cluster, namespace, NAME, lambda r: r >= 5, 90, "scale-up under load")
    before = deployment_replicas(cluster, namespace, NAME)
    assert before is not None

    prometheus.stop()
    try:
        stopped = time.monotonic()
        wait_for(
            lambda: (
                (c := condition(md_object(cluster, namespace), "ScalingActive")) and c["status"] == "False"
            ),
            timeout=15,
            message="ScalingActive=False while Prometheus is down",
        )
        message = condition(md_object(cluster, namespace), "ScalingActive") or {}
        assert message.get("reason"), message
        while time.monotonic() - stopped < 10:  # 10 ticks: replicas never fall
            replicas = deployment_replicas(cluster, namespace, NAME)
            assert replicas is not None
            assert replicas >= before, (replicas, before)
            time.sleep(0.5)
        assert md_object(cluster, namespace)["status"]["mode"] == "Holding"
    finally:
        prometheus.start()
    returned = time.monotonic()
    wait_for(
        lambda: (c := condition(md_object(cluster, namespace), "ScalingActive")) and c["status"] == "True",
        timeout=30,
        message="ScalingActive=True after Prometheus returns",
    )
    print(f"signals valid again {time.monotonic() - returned:.1f} s after Prometheus was ready")


def test_only_one_operator_writes_and_the_standby_takes_over(
    cluster: Cluster, namespace: str, traffic: TrafficSimProcess, operators: OperatorFactory
) -> None:
    apply_md(cluster, namespace)
    traffic.set_profile(namespace, NAME, LOW)
    first = operators(identity="operator-a")
    settle_at(cluster, namespace, 1)
    second = operators(identity="operator-b")
    time.sleep(5)

    lease = get_json(cluster, namespace, "lease", "modelscaler-operator")
    assert lease["spec"]["holderIdentity"] == "operator-a"
    assert "modelscaler_operator_leader 1.0" in first.metrics_text()
    assert "modelscaler_operator_leader 0.0" in second.metrics_text()
    assert "modelscaler_operator_api_writes_total" not in second.metrics_text().replace(
        "# HELP modelscaler_operator_api_writes_total", ""
    ).replace("# TYPE modelscaler_operator_api_writes_total", "")

    first.kill()
    killed = time.monotonic()
    wait_for(
        lambda: (
            get_json(cluster, namespace, "lease", "modelscaler-operator")["spec"].get("holderIdentity")
            == "operator-b"
        ),
        timeout=30,
        message="operator-b to take the Lease",
    )
    took_over = time.monotonic() - killed
    # The new leader acts: more load is followed by more replicas.
    traffic.set_profile(namespace, NAME, HIGH)
    wait_for_replicas(cluster, namespace, NAME, lambda r: r >= 5, 90, "scale-up by the new leader")
    print(f"operator-b took the Lease {took_over:.1f} s after operator-a was killed (lease duration 4 s)")


def test_template_change_rolls_pods_without_resetting_replicas_and_an_hpa_is_detected(
    cluster: Cluster, namespace: str, traffic: TrafficSimProcess, operators: OperatorFactory
) -> None:
    apply_md(cluster, namespace, minReplicas=3, maxReplicas=6)
    traffic.set_profile(namespace, NAME, LOW)
    operators()
    settle_at(cluster, namespace, 3)
    generation = get_json(cluster, namespace, "deployment", NAME)["metadata"]["generation"]

    cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "modeldeployment",
        NAME,
        "--type=json",
        "-p",
        json.dumps(
            [
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/0/env",
                    "value": [{"name": "MODEL_REV", "value": "2"}],
                }
            ]
        ),
    )
    wait_for(
        lambda: get_json(cluster, namespace, "deployment", NAME)["metadata"]["generation"] > generation,
        timeout=30,
        message="the Deployment's template to be updated",
    )
    deployment = get_json(cluster, namespace, "deployment", NAME)
    env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
    assert {"name": "MODEL_REV", "value": "2"} in env
    assert deployment["spec"]["replicas"] == 3

    cluster.kubectl(
        "-n", namespace, "autoscale", "deployment", NAME, "--min=1", "--max=4", "--cpu-percent=80"
    )
    wait_for(
        lambda: (
            (c := condition(md_object(cluster, namespace), "AbleToScale"))
            and c["reason"] == "ConflictingScaler"
        ),
        timeout=30,
        message="AbleToScale=False/ConflictingScaler once an HPA targets the Deployment",
    )
    warnings = [e for e in events(cluster, namespace) if e["reason"] == "ConflictingScaler"]
    assert warnings
    assert warnings[0]["type"] == "Warning"
    assert "HorizontalPodAutoscaler" in warnings[0]["message"]


def test_deleting_the_model_deployment_collects_what_it_owns_even_with_the_operator_down(
    cluster: Cluster, namespace: str, traffic: TrafficSimProcess, operators: OperatorFactory
) -> None:
    apply_md(cluster, namespace)
    traffic.set_profile(namespace, NAME, LOW)
    operator = operators()
    settle_at(cluster, namespace, 1)
    assert cluster.kubectl("-n", namespace, "get", "service", NAME, check=False).returncode == 0
    operator.kill()

    cluster.kubectl("-n", namespace, "delete", "modeldeployment", NAME, "--timeout=30s")
    wait_for(
        lambda: (
            cluster.kubectl("-n", namespace, "get", "deployment", NAME, check=False).returncode != 0
            and cluster.kubectl("-n", namespace, "get", "service", NAME, check=False).returncode != 0
        ),
        timeout=60,
        message="garbage collection of the Deployment and the Service",
    )
