"""A tiny driver that feeds decide() tick by tick, applying each decision, so tests read as timelines."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelscaler.engine import Decision, Memory, Observation, ScalingParams, decide

_SAME_AS_STABLE = object()


@dataclass
class Timeline:
    """One deployment under test: its settings, the replicas it runs and the engine's memory.

    Each tick builds an Observation (all current replicas ready unless told otherwise),
    calls decide() and applies the decision, as the operator and the simulator do.
    """

    params: ScalingParams
    replicas: int = 1
    memory: Memory = field(default_factory=Memory)
    decisions: list[Decision] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def at(
        self,
        time: float,
        stable: float | None,
        burst: float | object | None = _SAME_AS_STABLE,
        *,
        ready: int | None = None,
        starting: int = 0,
        arrival_stable: float | None = None,
        arrival_burst: float | None = None,
        in_service: float | None = None,
        waiting: float | None = None,
        service_time: float | None = None,
    ) -> Decision:
        """One tick at `time` with these signals (burst defaults to the stable value)."""
        burst_value = stable if burst is _SAME_AS_STABLE else burst
        assert burst_value is None or isinstance(burst_value, int | float)
        observation = Observation(
            time=time,
            ready_replicas=self.replicas if ready is None else ready,
            starting_replicas=starting,
            current_replicas=self.replicas,
            stable_concurrency=stable,
            burst_concurrency=burst_value,
            arrival_concurrency_stable=arrival_stable,
            arrival_concurrency_burst=arrival_burst,
            in_service=in_service,
            waiting=waiting,
            service_time=service_time,
        )
        decision, self.memory = decide(self.params, observation, self.memory, time)
        self.replicas = decision.desired
        self.decisions.append(decision)
        self.times.append(time)
        return decision

    def changes(self) -> list[tuple[float, int, int]]:
        """(time, from, to) for every tick that changed the replica count."""
        return [
            (t, d.current, d.desired) for t, d in zip(self.times, self.decisions, strict=True) if d.changed
        ]

    def run(self, start: float, end: float, stable: float | None, step: float = 1.0) -> Decision:
        """Ticks every `step` s from `start` to `end` (inclusive) at one load; returns the last decision."""
        time = start
        decision = self.at(time, stable)
        while time + step <= end:
            time += step
            decision = self.at(time, stable)
        return decision

    def restart(self) -> None:
        """An operator restart: the memory goes to status and comes back."""
        self.memory = Memory.from_dict(self.memory.to_dict())
