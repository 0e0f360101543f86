"""ConcurrencyTargetTooHigh: replicas below max, busy, latency over the objective while requests wait."""

from __future__ import annotations

from modelscaler.engine.diagnosis.context import Context, known, percentile
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import concurrency_target
from modelscaler.engine.diagnosis.rules.base import NO_SAMPLES, absent, problem, unknown
from modelscaler.engine.diagnosis.text import figure_range, num, secs, span
from modelscaler.engine.history import Sample

KIND = ConditionType.CONCURRENCY_TARGET_TOO_HIGH


def settled(sample: Sample) -> bool:
    """Valid data, at least one Ready replica and none starting (so a cold start does not explain latency)."""
    return sample.metrics_valid and sample.ready_replicas >= 1 and sample.starting_replicas == 0


def load_meeting_objective(ctx: Context) -> float | None:
    """The per-replica load at which latency met the objective (a high percentile over such ticks)."""
    loads = [
        load
        for s in ctx.window(ctx.dparams.ctt_reference_window)
        if settled(s)
        and (latency := ctx.latency(s)) is not None
        and latency <= ctx.objective
        and (load := ctx.per_replica_load(s)) is not None
    ]
    if len(loads) < ctx.dparams.ctt_min_good_samples:
        return None
    return percentile(loads, ctx.dparams.ctt_good_percentile)


def evaluate(ctx: Context) -> Finding:
    """True when overloaded-but-below-max ticks over the objective add up to ctt_min_seconds."""
    dparams = ctx.dparams
    lookback = ctx.window(dparams.ctt_lookback)
    if not lookback:
        return unknown(KIND, "NoData", NO_SAMPLES)
    if all(ctx.latency(s) is None for s in lookback):
        return unknown(
            KIND,
            "LatencyUnknown",
            f"{ctx.latency_name} latency unknown in the last {span(dparams.ctt_lookback)}",
        )
    good_load = load_meeting_objective(ctx)
    busy_floor = dparams.ctt_min_load_share * ctx.capacity

    def overloaded(sample: Sample) -> bool:
        latency = ctx.latency(sample)
        load = ctx.per_replica_load(sample)
        waiting = known(sample.waiting_requests)
        return (
            settled(sample)
            and sample.desired_replicas < sample.max_replicas
            and latency is not None
            and latency > ctx.objective
            and load is not None
            and load >= busy_floor
            and (good_load is None or load > good_load)
            and (waiting is None or waiting > 0)
        )

    bad = [(s, d) for s, d in zip(lookback, ctx.durations(lookback), strict=True) if overloaded(s)]
    bad_seconds = sum(d for _, d in bad)
    if bad_seconds < dparams.ctt_min_seconds:
        return absent(
            KIND,
            "LatencyMetBelowMax",
            f"over the objective below maxReplicas at a busy per-replica load for {span(bad_seconds)} "
            f"of the last {span(dparams.ctt_lookback)} (threshold {span(dparams.ctt_min_seconds)})",
        )
    bad_loads = [ctx.per_replica_load(s) or 0.0 for s, _ in bad]
    bad_latencies = [ctx.latency(s) or 0.0 for s, _ in bad]
    median_latency = percentile(bad_latencies, 50)
    evidence = (
        f"{ctx.latency_name} {secs(median_latency)} median (objective {secs(ctx.objective)}) for "
        f"{span(bad_seconds)} of the last {span(dparams.ctt_lookback)} at "
        f"{figure_range(min(bad_loads), max(bad_loads), num)} requests per Ready replica, below maxReplicas "
        f"(target {num(ctx.params.concurrency_target)} x utilization {num(ctx.params.target_utilization)})"
    )
    if good_load is not None:
        evidence += (
            f"; latency met the objective up to {num(good_load)} per replica "
            f"(p{dparams.ctt_good_percentile:g} over {span(dparams.ctt_reference_window)})"
        )
        suggested, why = good_load, "the per-replica load at which latency met the objective"
    else:
        # No evidence of a load that meets the objective: a step, which the next ticks judge.
        halved = ctx.params.concurrency_target / 2
        suggested = max(ctx.params.concurrency_target * ctx.objective / max(median_latency, 1e-9), halved)
        why = (
            "a step down, estimated as target x objective / latency (at most halving the target): "
            "no tick met the objective"
        )
    if suggested >= ctx.params.concurrency_target:
        return absent(
            KIND,
            "LoadAboveTarget",
            f"{evidence}: the load per replica is above the target, so the target is not what keeps "
            "replicas low (paused, or scale-ups rate-limited?)",
        )
    return problem(
        KIND, "OverloadedBelowMax", evidence, concurrency_target(ctx.params, suggested, why, evidence)
    )
