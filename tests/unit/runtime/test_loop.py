"""The control loop with fake signals and a recording writer: what it writes, and when.

No server: the loop's two interfaces (SignalSource, Writer) are small fakes; kopf's
indexes are plain dicts; `tick(now)` is called with explicit times.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from tests.unit.runtime.test_reconcile import md_body as reconcile_md_body

from modelscaler.metrics.signals import Signals
from modelscaler.runtime import loop as loop_module
from modelscaler.runtime.http import Health
from modelscaler.runtime.loop import ControlLoop, Key, LoopConfig
from modelscaler.runtime.reconcile import reconcile as real_reconcile
from modelscaler.runtime.telemetry import Telemetry

T0 = 1_800_000_000.0
TICK = 2.0
REFRESH = 15.0


def md_body(namespace: str, name: str) -> dict[str, Any]:
    """A valid ModelDeployment as kopf's index holds it (the reconcile tests' one, renamed)."""
    body = reconcile_md_body(maxReplicas=4)
    body["metadata"].update({"name": name, "namespace": namespace, "uid": f"uid-{name}"})
    return body


def ready_pod(name: str) -> dict[str, Any]:
    """One Ready pod of a deployment."""
    since = "2027-01-15T08:00:00Z"
    return {
        "metadata": {"name": f"{name}-0", "creationTimestamp": since},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": since}],
        },
    }


class SteadySignals:
    """Every deployment at the same steady load: 0.3 requests in flight, all signals known."""

    async def fetch(self, bodies: Sequence[Mapping[str, Any]], now: float) -> Mapping[Key, Signals]:
        signals = {}
        for body in bodies:
            meta = body["metadata"]
            signals[(meta["namespace"], meta["name"])] = Signals(
                namespace=meta["namespace"],
                name=meta["name"],
                time=now,
                stable_concurrency=0.3,
                burst_concurrency=0.3,
                arrival_concurrency_stable=0.3,
                arrival_concurrency_burst=0.3,
                request_rate=0.6,
                latency_p95=0.5,
            )
        return signals


class RecordingWriter:
    """Records the status patches; the status it writes shows up in the index, as the watch would."""

    def __init__(self, bodies: Mapping[Key, list[dict[str, Any]]]) -> None:
        self.bodies = bodies
        self.status_patches: list[Key] = []

    async def ensure_owned(self, md: Mapping[str, Any]) -> None:
        raise AssertionError("the Deployment exists: nothing to create")

    async def set_scale(self, namespace: str, name: str, replicas: int) -> None:
        return None

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        self.status_patches.append((namespace, name))
        body = self.bodies[(namespace, name)][0]
        body["status"] = {**body.get("status", {}), **status}
        return True

    async def emit_event(self, md: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        return None


def fleet_loop(count: int) -> tuple[ControlLoop, RecordingWriter]:
    """A leader's loop over `count` identical deployments, each with its Deployment and one Ready pod."""
    keys = [("team", f"model-{i:03d}") for i in range(count)]
    bodies = {key: [md_body(*key)] for key in keys}
    writer = RecordingWriter(bodies)
    loop = ControlLoop(
        config=LoopConfig(tick_seconds=TICK, status_refresh_seconds=REFRESH),
        signals=SteadySignals(),
        writer=writer,
        telemetry=Telemetry(),
        health=Health(tick_seconds=TICK, liveness_ticks=10, started_at=T0, is_leader=lambda: True),
        is_leader=lambda: True,
    )
    loop.attach_indexes(
        modeldeployments=bodies,
        pods={key: [ready_pod(key[1])] for key in keys},
        deployments={
            key: [{"replicas": 1, "status_replicas": 1, "owners": [f"uid-{key[1]}"]}] for key in keys
        },
        hpas={},
    )
    return loop, writer


def patches_per_tick(loop: ControlLoop, writer: RecordingWriter, seconds: float) -> list[int]:
    """Ticks the loop every TICK seconds for `seconds`; how many status patches each tick sent."""
    counts = []

    async def run() -> None:
        for index in range(int(seconds / TICK)):
            before = len(writer.status_patches)
            await loop.tick(T0 + index * TICK)
            counts.append(len(writer.status_patches) - before)

    asyncio.run(run())
    return counts


def test_status_refreshes_of_a_fleet_written_together_are_spread_over_the_period() -> None:
    fleet = 24
    loop, writer = fleet_loop(fleet)
    counts = patches_per_tick(loop, writer, 90.0)
    assert counts[0] == fleet  # the first tick writes every status
    # Steady load, identical deployments: what follows is refreshes. Without spreading, the whole
    # fleet would come due on one tick every period; spread, a period's ticks share the fleet.
    steady = counts[int(2 * REFRESH / TICK) :]
    assert max(steady) < fleet / 2, counts
    ticks_per_period = REFRESH / TICK
    assert sum(steady) == pytest.approx(fleet * len(steady) / ticks_per_period, rel=0.25), counts


def test_each_deployment_still_refreshes_about_once_per_period() -> None:
    loop, writer = fleet_loop(6)
    seconds = 90.0
    patches_per_tick(loop, writer, seconds)
    for key in {key for key in writer.status_patches}:
        refreshes = writer.status_patches.count(key)
        assert seconds / REFRESH - 2 <= refreshes <= seconds / (REFRESH + TICK) + 3, (key, refreshes)


def test_other_tasks_run_between_deployments_of_one_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass over a large fleet is CPU-bound: the Lease renewal and probes must not wait for all of it."""
    loop, _ = fleet_loop(20)
    other_task_progress: list[int] = []
    seen_at_each_reconcile: list[int] = []

    def observed_reconcile(*args: Any, **kwargs: Any) -> Any:
        seen_at_each_reconcile.append(len(other_task_progress))
        return real_reconcile(*args, **kwargs)

    monkeypatch.setattr(loop_module, "reconcile", observed_reconcile)

    async def run() -> None:
        done = asyncio.Event()

        async def other_task() -> None:
            while not done.is_set():
                other_task_progress.append(1)
                await asyncio.sleep(0)

        other = asyncio.create_task(other_task())
        await loop.tick(T0)
        done.set()
        await other

    asyncio.run(run())
    assert len(seen_at_each_reconcile) == 20
    # The other task advanced between every two consecutive deployments' reconciles.
    assert all(b > a for a, b in itertools.pairwise(seen_at_each_reconcile))
