"""modelscaler's own engine under replay: a thin adapter from the replay's signals to decide().

The Observation is built the way the operator's control loop builds it from
Prometheus: stable and burst windows of in-flight concurrency (in service +
queued), the arrival-driven concurrency (arrival rate x mean service time) over
the same windows, the requests in service, the requests waiting in the servers
(the metrics layer's `waiting`) with the mean service time (over the same window
as the arrival concurrency's mean), and the replica counts. With
`arrival_sizing=False` the arrival and queue signals are left unknown, so the
engine sizes from the queue-inclusive concurrency like its peers do (the
"without" of the cold-start-aware comparison).
"""

from __future__ import annotations

from modelscaler.engine.decide import decide
from modelscaler.engine.types import Memory, Observation, ScalingParams
from modelscaler.simulate.policies.base import Step
from modelscaler.simulate.signals import SERVICE_MEAN_WINDOW, MetricsView


class Modelscaler:
    """decide() with its memory carried from tick to tick."""

    source = "modelscaler.engine.decide (this repository)"

    def __init__(
        self,
        params: ScalingParams,
        interval: float = 2.0,
        arrival_sizing: bool = True,
        name: str = "modelscaler",
    ) -> None:
        self.name = name
        self.interval = interval
        self.params = params
        self.arrival_sizing = arrival_sizing
        self.memory = Memory()
        self.last_mode = ""

    def observe(self, view: MetricsView) -> Observation:
        """The Observation the operator would build at view.now."""
        stable_window, burst_window = self.params.stable_window, self.params.panic_window
        arrival_stable = view.arrival_concurrency(stable_window) if self.arrival_sizing else None
        arrival_burst = view.arrival_concurrency(burst_window) if self.arrival_sizing else None
        stable = view.concurrency(stable_window)
        known = self.arrival_sizing and stable is not None
        return Observation(
            time=view.now,
            ready_replicas=view.ready,
            starting_replicas=view.starting,
            current_replicas=view.current,
            stable_concurrency=stable,
            burst_concurrency=view.concurrency(burst_window),
            arrival_concurrency_stable=arrival_stable,
            arrival_concurrency_burst=arrival_burst,
            in_service=float(view.in_service()) if known else None,
            waiting=float(view.queued()) if known else None,
            service_time=view.mean_service(max(stable_window, SERVICE_MEAN_WINDOW)) if known else None,
            unknown_reason=None if stable is not None else "no scrape in the window yet",
        )

    def decide(self, view: MetricsView) -> Step:
        """One engine tick."""
        decision, self.memory = decide(self.params, self.observe(view), self.memory, view.now)
        self.last_mode = str(decision.mode)
        return Step(decision.desired, decision.wanted_unclamped, decision.reason)
