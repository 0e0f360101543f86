"""ColdStartDelay: many replicas starting and not yet Ready, for long; measured time to Ready."""

from __future__ import annotations

from modelscaler.engine.diagnosis.context import Context, Run, percentile
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import more_min_replicas
from modelscaler.engine.diagnosis.rules.base import NO_SAMPLES, absent, problem, unknown
from modelscaler.engine.diagnosis.text import num, span, whole_up
from modelscaler.engine.history import Sample

KIND = ConditionType.COLD_START_DELAY


def is_initial_start(ctx: Context, run: Run) -> bool:
    """The stretch is the deployment's first start: no replica was Ready in any sample before it ended.

    (Not only a stretch beginning at the first sample: the operator's first samples may see no pod at
    all yet, before the first ones are created.)
    """
    first = run.samples[0]
    if first.ready_replicas != 0:
        return False
    return not any(s.ready_replicas > 0 for s in ctx.samples if s.time < first.time)


def time_to_ready(ctx: Context) -> str:
    """The measured cold start from PodStart records of the base window, in figures."""
    starts = [p.seconds_to_ready for p in ctx.pod_starts if p.time > ctx.now - ctx.dparams.cold_base_window]
    if not starts:
        return "time to Ready not measured (no pod became Ready in the window)"
    return (
        f"pods took {span(percentile(starts, 50))} median, {span(max(starts))} at most, to become Ready "
        f"({len(starts)} starts)"
    )


def evaluate(ctx: Context) -> Finding:
    """True when starting replicas stayed >= cold_gap_share of desired for cold_min_gap_seconds."""
    dparams = ctx.dparams
    lookback = ctx.window(dparams.cold_lookback)
    if not lookback:
        return unknown(KIND, "NoData", NO_SAMPLES)

    def large_gap(sample: Sample) -> bool:
        return sample.starting_replicas >= max(1.0, dparams.cold_gap_share * sample.desired_replicas)

    stretches = [r for r in ctx.runs(lookback, large_gap) if not is_initial_start(ctx, r)]
    longest = max(stretches, key=lambda r: r.seconds, default=None)
    if longest is None or longest.seconds < dparams.cold_min_gap_seconds:
        return absent(
            KIND,
            "StartsKeepUp",
            f"starting replicas stayed below {dparams.cold_gap_share:.0%} of desired, or not for "
            f"{span(dparams.cold_min_gap_seconds)}, in the last {span(dparams.cold_lookback)}",
        )
    peak = max(longest.samples, key=lambda s: s.starting_replicas)
    evidence = (
        f"{peak.starting_replicas} of {peak.desired_replicas} replicas starting, "
        f"{peak.ready_replicas} Ready, in a gap that lasted {span(longest.seconds)}, "
        f"ending {span(ctx.now - longest.end)} ago; "
        f"{time_to_ready(ctx)}; shrink the image and the model load to start faster"
    )
    loads = [load for s in ctx.window(dparams.cold_base_window) if (load := ctx.load(s)) is not None]
    if not loads:
        return problem(KIND, "SlowColdStarts", f"{evidence}; base load unknown")
    base_load = percentile(loads, dparams.cold_base_percentile)
    needed = whole_up(base_load / ctx.capacity)
    base_text = (
        f"base load (p{dparams.cold_base_percentile:g} of concurrency over {span(dparams.cold_base_window)}) "
        f"{num(base_load)} / capacity {num(ctx.capacity)} per replica -> {needed}"
    )
    recommendation = more_min_replicas(
        ctx.params,
        needed,
        "replicas that are always up serve the base load without a cold start",
        f"{evidence}; {base_text}",
    )
    if recommendation is None:
        return problem(KIND, "SlowColdStarts", f"{evidence}; minReplicas already covers the {base_text}")
    return problem(KIND, "SlowColdStarts", evidence, recommendation)
