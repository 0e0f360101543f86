"""The history as the rules read it: sorted, cleaned, cut into windows ending at `now`."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from modelscaler.engine.diagnosis.model import DiagnosisInput, DiagnosisParams
from modelscaler.engine.history import PodStart, RestartEvent, Sample, ScaleEvent
from modelscaler.engine.types import ScalingParams


def known(value: float | None) -> float | None:
    """The value when it is a finite number, else None (NaN and infinities are unknown)."""
    if value is None or not math.isfinite(value):
        return None
    return value


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of a non-empty sequence, interpolating between ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of (x, y) points; 0 when x does not vary."""
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread <= 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def _latency_reader(requested: float) -> Callable[[Sample], float | None]:
    """Picks the sample field for a latency percentile: the smallest of p50/p95/p99 at or above it."""
    if requested <= 50:
        return lambda sample: known(sample.latency_p50)
    if requested <= 95:
        return lambda sample: known(sample.latency_p95)
    return lambda sample: known(sample.latency_p99)


def scale_events_from_samples(samples: Sequence[Sample]) -> tuple[ScaleEvent, ...]:
    """The replica changes implied by successive samples' desired_replicas (time-sorted samples)."""
    return tuple(
        ScaleEvent(time=after.time, from_replicas=before.desired_replicas, to_replicas=after.desired_replicas)
        for before, after in itertools.pairwise(samples)
        if after.desired_replicas != before.desired_replicas
    )


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of consecutive samples that all satisfied a predicate."""

    start: float
    end: float
    seconds: float  # the time the samples stand for (gaps longer than max_sample_gap excluded)
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Context:
    """Everything a rule reads, cleaned once per call of diagnose()."""

    params: ScalingParams
    dparams: DiagnosisParams
    now: float
    history: DiagnosisInput
    samples: tuple[Sample, ...]
    times: tuple[float, ...]
    scale_events: tuple[ScaleEvent, ...]
    restarts: tuple[RestartEvent, ...]
    pod_starts: tuple[PodStart, ...]
    latency: Callable[[Sample], float | None]

    @classmethod
    def build(
        cls, history: DiagnosisInput, params: ScalingParams, dparams: DiagnosisParams, now: float
    ) -> Context:
        """Sorts the timelines and drops entries with no finite time or later than `now`."""

        def in_past(time: float) -> bool:
            return math.isfinite(time) and time <= now

        samples = tuple(sorted((s for s in history.samples if in_past(s.time)), key=lambda s: s.time))
        given_events = [e for e in history.scale_events if in_past(e.time)]
        events = (
            sorted(given_events, key=lambda e: e.time) if given_events else scale_events_from_samples(samples)
        )
        return cls(
            params=params,
            dparams=dparams,
            now=now,
            history=history,
            samples=samples,
            times=tuple(s.time for s in samples),
            scale_events=tuple(e for e in events if e.direction != 0),
            restarts=tuple(sorted((r for r in history.restarts if in_past(r.time)), key=lambda r: r.time)),
            pod_starts=tuple(
                sorted(
                    (
                        p
                        for p in history.pod_starts
                        if in_past(p.time) and known(p.seconds_to_ready) is not None
                    ),
                    key=lambda p: p.time,
                )
            ),
            latency=_latency_reader(dparams.latency_percentile),
        )

    @property
    def latency_name(self) -> str:
        """The objective's percentile as people write it ("p95")."""
        return f"p{self.dparams.latency_percentile:g}"

    @property
    def capacity(self) -> float:
        """Concurrency one replica carries at the target utilization (never zero, so it can divide)."""
        return max(self.params.capacity, 1e-12)

    @property
    def objective(self) -> float:
        """The latency objective in seconds."""
        return self.dparams.latency_objective_seconds

    def window(self, seconds: float) -> tuple[Sample, ...]:
        """The samples of the last `seconds` (time > now - seconds)."""
        start = bisect.bisect_right(self.times, self.now - seconds)
        return self.samples[start:]

    def history_seconds(self) -> float:
        """How far back the samples reach from now (0 without samples)."""
        return self.now - self.times[0] if self.times else 0.0

    def events_within(self, seconds: float) -> tuple[ScaleEvent, ...]:
        """The scale events of the last `seconds`."""
        return tuple(e for e in self.scale_events if e.time > self.now - seconds)

    def durations(self, samples: Sequence[Sample]) -> list[float]:
        """How long each sample stands for: the time since the previous tick, capped at max_sample_gap.

        The first sample of the history stands for the median tick interval.
        """
        cap = self.dparams.max_sample_gap
        result: list[float] = []
        for sample in samples:
            index = bisect.bisect_left(self.times, sample.time)
            if index > 0:
                result.append(min(sample.time - self.times[index - 1], cap))
            else:
                result.append(min(self.typical_interval(), cap))
        return result

    def typical_interval(self) -> float:
        """The median interval between ticks (0 with fewer than two samples)."""
        gaps = [b - a for a, b in zip(self.times, self.times[1:], strict=False) if b > a]
        return percentile(gaps, 50) if gaps else 0.0

    def runs(self, samples: Sequence[Sample], predicate: Callable[[Sample], bool]) -> list[Run]:
        """Runs of samples satisfying `predicate`, broken by a miss or a gap > max_sample_gap."""
        result: list[Run] = []
        current: list[tuple[Sample, float]] = []
        previous_time: float | None = None

        def close() -> None:
            if current:
                first, first_duration = current[0]
                result.append(
                    Run(
                        start=first.time - first_duration,
                        end=current[-1][0].time,
                        seconds=sum(d for _, d in current),
                        samples=tuple(s for s, _ in current),
                    )
                )
                current.clear()

        for sample, duration in zip(samples, self.durations(samples), strict=True):
            gap_broken = (
                previous_time is not None and sample.time - previous_time > self.dparams.max_sample_gap
            )
            hit = predicate(sample)
            if gap_broken or not hit:
                close()
            if hit:
                current.append((sample, duration))
            previous_time = sample.time
        close()
        return result

    def weighted(
        self, samples: Sequence[Sample], value: Callable[[Sample], float | None]
    ) -> Iterable[tuple[Sample, float, float]]:
        """(sample, value, duration) for the samples whose value is known."""
        for sample, duration in zip(samples, self.durations(samples), strict=True):
            figure = value(sample)
            if figure is not None:
                yield sample, figure, duration

    def load(self, sample: Sample) -> float | None:
        """The arrival-driven concurrency when known, else the stable concurrency (in flight + queued)."""
        arrival = known(sample.arrival_concurrency)
        return arrival if arrival is not None else known(sample.concurrency)

    def per_replica_load(self, sample: Sample) -> float | None:
        """Stable concurrency per Ready replica (None without a Ready replica or a known concurrency)."""
        concurrency = known(sample.concurrency)
        if concurrency is None or sample.ready_replicas < 1:
            return None
        return concurrency / sample.ready_replicas

    def in_service_per_replica(self, sample: Sample) -> float | None:
        """Requests being served (concurrency minus those waiting) per Ready replica.

        None when unknown, or when the waiting count exceeds the concurrency: the stable
        concurrency is a window average and lags an instantaneous queue that grows.
        """
        concurrency = known(sample.concurrency)
        waiting = known(sample.waiting_requests)
        if concurrency is None or waiting is None or sample.ready_replicas < 1 or concurrency <= waiting:
            return None
        return (concurrency - waiting) / sample.ready_replicas
