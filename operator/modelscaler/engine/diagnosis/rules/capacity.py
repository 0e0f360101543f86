"""CapacityExhausted: at maxReplicas, wanting more, and latency over the objective while it lasts."""

from __future__ import annotations

from modelscaler.engine.diagnosis.context import Context
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import concurrency_target, more_max_replicas
from modelscaler.engine.diagnosis.rules.base import NO_SAMPLES, absent, problem, unknown
from modelscaler.engine.diagnosis.text import num, secs, span
from modelscaler.engine.history import Sample

KIND = ConditionType.CAPACITY_EXHAUSTED


def wants_more_than_max(sample: Sample) -> bool:
    """At maxReplicas while the engine's unclamped count is above it."""
    return (
        sample.desired_replicas >= sample.max_replicas
        and sample.wanted_replicas is not None
        and sample.wanted_replicas > sample.max_replicas
    )


def evaluate(ctx: Context) -> Finding:
    """True when at max and wanting more for capacity_min_seconds, latency over the objective most of it."""
    dparams = ctx.dparams
    lookback = ctx.window(dparams.capacity_lookback)
    if not lookback:
        return unknown(KIND, "NoData", NO_SAMPLES)
    at_max = [
        (s, d) for s, d in zip(lookback, ctx.durations(lookback), strict=True) if wants_more_than_max(s)
    ]
    at_max_seconds = sum(d for _, d in at_max)
    if at_max_seconds < dparams.capacity_min_seconds:
        return absent(
            KIND,
            "WithinCapacity",
            f"wanted more than maxReplicas for {span(at_max_seconds)} of the last "
            f"{span(dparams.capacity_lookback)} (threshold {span(dparams.capacity_min_seconds)})",
        )
    wanted_peak = max(s.wanted_replicas or 0 for s, _ in at_max)
    max_replicas = at_max[-1][0].max_replicas
    situation = (
        f"at maxReplicas {max_replicas} for {span(at_max_seconds)} of the last "
        f"{span(dparams.capacity_lookback)}, wanting up to {wanted_peak}"
    )
    latencies = [value for s, _ in at_max if (value := ctx.latency(s)) is not None]
    if not latencies:
        return unknown(KIND, "LatencyUnknown", f"{situation}; {ctx.latency_name} latency unknown")
    over = [value for value in latencies if value > ctx.objective]
    latency_text = (
        f"{ctx.latency_name} over the {secs(ctx.objective)} objective in {len(over)} of {len(latencies)} "
        f"ticks (from {secs(latencies[0])} to a peak of {secs(max(latencies))})"
    )
    if len(over) < dparams.capacity_over_objective_share * len(latencies):
        return absent(
            KIND, "LatencyWithinObjective", f"{situation}, but {latency_text}: the replicas absorb it"
        )
    evidence = f"{situation}; {latency_text}"
    raise_max = more_max_replicas(
        ctx.params,
        wanted_peak,
        "the engine wanted this many replicas while latency missed the objective",
        evidence,
    )
    raise_target = concurrency_target(
        ctx.params,
        ctx.params.concurrency_target * wanted_peak / max(max_replicas, 1),
        f"or let each replica carry more (x {num(wanted_peak / max(max_replicas, 1))}), "
        "only if the server meets the objective at that load",
        evidence,
    )
    return problem(KIND, "AtMaxReplicas", evidence, raise_max, raise_target)
