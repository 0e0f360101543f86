"""Overprovisioned: utilization low for long while minReplicas keeps more replicas than the load needs."""

from __future__ import annotations

from modelscaler.engine.diagnosis.context import Context
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import fewer_min_replicas
from modelscaler.engine.diagnosis.rules.base import absent, problem, unknown
from modelscaler.engine.diagnosis.text import duration_setting, num, pct, span, whole_up

KIND = ConditionType.OVERPROVISIONED


def evaluate(ctx: Context) -> Finding:
    """True when, over overprov_window, Ready replicas stayed above the peak need with utilization low."""
    dparams = ctx.dparams
    params = ctx.params
    window = span(dparams.overprov_window)
    if ctx.history_seconds() < dparams.overprov_min_known_share * dparams.overprov_window:
        return unknown(
            KIND, "InsufficientHistory", f"{span(ctx.history_seconds())} of history; needs {window} to judge"
        )
    lookback = ctx.window(dparams.overprov_window)
    loads = list(ctx.weighted(lookback, ctx.load))
    known_seconds = sum(d for _, _, d in loads)
    if known_seconds < dparams.overprov_min_known_share * dparams.overprov_window:
        return unknown(KIND, "LoadUnknown", f"load known for {span(known_seconds)} of the last {window}")
    peak_load = max(load for _, load, _ in loads)
    needed = max(1, whole_up(peak_load / ctx.capacity))
    fewest_ready = min(s.ready_replicas for s, _, _ in loads)
    shares = [(load / (s.ready_replicas * ctx.capacity), d) for s, load, d in loads if s.ready_replicas]
    utilization = sum(u * d for u, d in shares) / max(sum(d for _, d in shares), 1e-9) if shares else 0.0
    figures = (
        f"over the last {window} the load needed at most {needed} replicas "
        f"(peak concurrency {num(peak_load)} / capacity {num(ctx.capacity)}) while at least {fewest_ready} "
        f"were Ready; load per replica averaged {pct(utilization)} of the capacity"
    )
    if fewest_ready <= needed or utilization >= dparams.overprov_max_utilization:
        return absent(KIND, "SizedToLoad", figures)
    if params.min_replicas > needed:
        evidence = f"{figures}; minReplicas {params.min_replicas} holds them"
        recommendation = fewer_min_replicas(
            params,
            needed,
            "the most replicas the load needed in the window; or pick a smaller instance",
            evidence,
        )
        return problem(KIND, "MinReplicasAboveLoad", evidence, recommendation)
    held_window = params.scale_down_delay + params.stable_window
    held_loads = [load for s in ctx.window(held_window) if (load := ctx.load(s)) is not None]
    held_need = max(1, whole_up(max(held_loads, default=0.0) / ctx.capacity))
    if fewest_ready <= held_need:
        return absent(
            KIND,
            "ScaleDownDelayHolds",
            f"{figures}; the scale-down delay still holds the {held_need} replicas wanted in the last "
            f"{span(held_window)}",
        )
    return problem(
        KIND,
        "ReplicasAboveLoad",
        f"{figures}; minReplicas {params.min_replicas} is not what holds them: replicas are not scaled down "
        f"(paused, or another autoscaler; scaleDownDelay {duration_setting(params.scale_down_delay)})",
    )
