"""The running simulator: the simulation behind a lock, advanced in real time, fed by the pod watch.

Every entry point takes the lock, advances the models to the current monotonic time, then acts, so that
HTTP requests, pod events and the ticker all see one consistent timeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from .exposition import render_pod_metrics
from .profile import TrafficProfile
from .simulation import DeploymentKey, PodInfo, Simulation
from .targets import TargetWriter

log = structlog.get_logger("trafficsim")


class TrafficService:
    """Thread-safe front of a Simulation, with a ticker thread that advances it and refreshes targets."""

    def __init__(
        self,
        simulation: Simulation,
        targets: TargetWriter,
        tick_seconds: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._simulation = simulation
        self._targets = targets
        self._tick_seconds = tick_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.last_tick = clock()

    # ----- control API ------------------------------------------------------------------------------------

    def set_profile(self, key: DeploymentKey, profile: TrafficProfile) -> None:
        """Set a deployment's traffic from now on."""
        with self._lock:
            self._simulation.set_profile(key, profile, self._clock())
        log.info(
            "profile set",
            namespace=key[0],
            deployment=key[1],
            profile=profile.model_dump(mode="json", by_alias=True, exclude_none=True),
        )

    def delete_profile(self, key: DeploymentKey) -> bool:
        """Remove a deployment's profile; False if it had none."""
        with self._lock:
            deleted = self._simulation.delete_profile(key, self._clock())
        if deleted:
            log.info("profile deleted", namespace=key[0], deployment=key[1])
        return deleted

    def status(self) -> list[dict[str, object]]:
        """Profiles and live figures of every deployment."""
        with self._lock:
            self._simulation.advance(self._clock())
            return self._simulation.status()

    def pod_metrics(self, namespace: str, pod: str) -> str | None:
        """A pod's metrics page, or None for an unknown pod."""
        with self._lock:
            self._simulation.advance(self._clock())
            snapshot = self._simulation.pod_snapshot(namespace, pod)
        return render_pod_metrics(snapshot) if snapshot is not None else None

    def healthy(self) -> bool:
        """True while the ticker has run within the last few ticks."""
        return self._clock() - self.last_tick < max(2.0, 20 * self._tick_seconds)

    # ----- pod watch callbacks ----------------------------------------------------------------------------

    def replace_pods(self, pods: list[PodInfo]) -> None:
        """The watch listed all pods."""
        with self._lock:
            self._simulation.replace_pods(pods, self._clock())

    def observe_pod(self, pod: PodInfo) -> None:
        """The watch saw a pod added or changed."""
        with self._lock:
            self._simulation.observe_pod(pod, self._clock())

    def forget_pod(self, namespace: str, name: str) -> None:
        """The watch saw a pod deleted."""
        with self._lock:
            self._simulation.forget_pod(namespace, name, self._clock())

    # ----- ticker -----------------------------------------------------------------------------------------

    def run_ticker(self) -> None:
        """Advance the models and refresh the target files every tick until stopped."""
        while not self.stopping.is_set():
            with self._lock:
                now = self._clock()
                self._simulation.advance(now)
                ready = self._simulation.ready_targets()
            try:
                self._targets.write(ready)
            except OSError as error:
                log.error("writing targets failed", error=repr(error))
            self.last_tick = now
            self.stopping.wait(self._tick_seconds)
        self._targets.remove_all()
