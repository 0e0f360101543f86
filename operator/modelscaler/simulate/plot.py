"""The PNG timeline: load, replicas per policy and latency, one shared time axis (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from modelscaler.simulate.replay import ReplayResult, percentile
from modelscaler.simulate.traces import Request

LATENCY_BUCKET_SECONDS = 30.0


def plot_timeline(
    path: Path,
    requests: Sequence[Request],
    results: Sequence[ReplayResult],
    needed: Sequence[tuple[float, int]],
    objective: float,
    title: str,
) -> None:
    """Writes a three-panel PNG: arrival rate, replicas (each policy and the oracle's need), p95 latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (load_axis, replica_axis, latency_axis) = plt.subplots(
        3, 1, figsize=(12, 9), sharex=True, gridspec_kw={"height_ratios": [1, 2, 1.4]}
    )
    end = max((r.arrival for r in requests), default=0.0)
    bucket = max(10.0, end / 300)
    counts = [0] * (int(end / bucket) + 1)
    for request in requests:
        counts[int(request.arrival / bucket)] += 1
    load_axis.plot(
        [i * bucket for i in range(len(counts))], [c / bucket for c in counts], color="black", lw=0.8
    )
    load_axis.set_ylabel("requests/s")
    load_axis.set_title(title)

    if needed:
        times_needed, peaks = _bucket_peaks(needed, end, bucket)
        replica_axis.step(
            times_needed, peaks, where="post", color="black", ls=":", lw=0.9, label="needed (oracle)"
        )
    for result in results:
        times = [i * result.scrape_interval for i in range(len(result.timeline_desired))]
        replica_axis.step(times, result.timeline_desired, where="post", lw=1.0, label=result.policy)
    replica_axis.set_ylabel("replicas (desired)")
    replica_axis.legend(loc="upper left", fontsize="small", ncol=4)

    for result in results:
        starts, p95s = _latency_p95_series(requests, result.latencies)
        latency_axis.plot(starts, p95s, lw=0.9, label=result.policy)
    latency_axis.axhline(objective, color="red", ls="--", lw=0.8, label="objective")
    latency_axis.set_yscale("log")
    latency_axis.set_ylabel(f"p95 latency per {LATENCY_BUCKET_SECONDS:.0f} s (s)")
    latency_axis.set_xlabel("trace time (s)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _latency_p95_series(
    requests: Sequence[Request], latencies: Sequence[float]
) -> tuple[list[float], list[float]]:
    buckets: dict[int, list[float]] = {}
    for request, latency in zip(requests, latencies, strict=True):
        buckets.setdefault(int(request.arrival / LATENCY_BUCKET_SECONDS), []).append(latency)
    starts, values = [], []
    for key in sorted(buckets):
        starts.append(key * LATENCY_BUCKET_SECONDS)
        values.append(percentile(sorted(buckets[key]), 95))
    return starts, values


def _bucket_peaks(
    steps: Sequence[tuple[float, int]], end: float, bucket: float
) -> tuple[list[float], list[int]]:
    """The peak of a (time, count) step function per bucket, so that a noisy n(t) stays readable."""
    peaks = [0] * (int(end / bucket) + 1)
    for index, (time, count) in enumerate(steps):
        until = steps[index + 1][0] if index + 1 < len(steps) else end
        first, last = int(time / bucket), min(int(until / bucket), len(peaks) - 1)
        for slot in range(first, last + 1):
            peaks[slot] = max(peaks[slot], count)
    return [i * bucket for i in range(len(peaks))], peaks
