"""Thrashing: replica changes reversing direction repeatedly, with latency spikes aligned with them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from modelscaler.engine.diagnosis.context import Context, percentile
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import longer_scale_down_delay
from modelscaler.engine.diagnosis.rules.base import NO_SAMPLES, absent, problem, unknown
from modelscaler.engine.diagnosis.text import duration_setting, secs, span
from modelscaler.engine.history import ScaleEvent

KIND = ConditionType.THRASHING


def reversals(events: Sequence[ScaleEvent]) -> list[ScaleEvent]:
    """The events that change direction against the one before them."""
    return [after for before, after in itertools.pairwise(events) if after.direction == -before.direction]


def oscillation_period(turns: Sequence[ScaleEvent]) -> float:
    """The longest interval between successive reversals of one kind (peak to peak, trough to trough).

    Reversals alternate in direction, so the next of the same kind is two places on.
    With no two of the same kind, twice the longest interval between reversals.
    """
    same_kind = [turns[index + 2].time - turns[index].time for index in range(len(turns) - 2)]
    if same_kind:
        return max(same_kind)
    return 2 * max((b.time - a.time for a, b in itertools.pairwise(turns)), default=0.0)


def latency_alignment(ctx: Context, turns: Sequence[ScaleEvent]) -> str:
    """Says how many reversals had a latency spike within the alignment window, in figures."""
    lookback = ctx.window(ctx.dparams.thrash_lookback)
    latencies = [value for sample in lookback if (value := ctx.latency(sample)) is not None]
    if not latencies:
        return "latency unknown"
    baseline = percentile(latencies, 50)
    align = ctx.dparams.thrash_align_seconds
    peaks: list[float] = []
    for turn in turns:
        near = [
            value
            for sample in lookback
            if abs(sample.time - turn.time) <= align and (value := ctx.latency(sample)) is not None
        ]
        if near and max(near) > 0 and max(near) >= baseline * ctx.dparams.thrash_spike_factor:
            peaks.append(max(near))
    if not peaks:
        return f"no {ctx.latency_name} spike within {span(align)} of them (median {secs(baseline)})"
    return (
        f"{ctx.latency_name} rose from {secs(baseline)} to {secs(max(peaks))} within {span(align)} "
        f"of {len(peaks)} of them"
    )


def evaluate(ctx: Context) -> Finding:
    """True when the last thrash_lookback holds at least thrash_min_reversals direction reversals."""
    dparams = ctx.dparams
    if not ctx.samples and not ctx.scale_events:
        return unknown(KIND, "NoData", NO_SAMPLES)
    turns = reversals(ctx.events_within(dparams.thrash_lookback))
    if len(turns) < dparams.thrash_min_reversals:
        return absent(
            KIND,
            "NoOscillation",
            f"{len(turns)} direction reversals in the last {span(dparams.thrash_lookback)} "
            f"(threshold {dparams.thrash_min_reversals})",
        )
    period = oscillation_period(turns)
    evidence = (
        f"{len(turns)} direction reversals in {span(dparams.thrash_lookback)}, one cycle every "
        f"{span(period)} at most; {latency_alignment(ctx, turns)}"
    )
    recommendation = longer_scale_down_delay(
        ctx.params,
        period,
        dparams.delay_margin,
        f"a delay longer than the oscillation period ({span(period)} x {dparams.delay_margin:g}) keeps "
        "the peak's replicas standing until the next peak",
        evidence,
    )
    if recommendation is None:
        evidence += (
            f"; scaleDownDelay {duration_setting(ctx.params.scale_down_delay)} already covers the period: "
            "the traffic itself swings"
        )
        return problem(KIND, "ReplicasOscillating", evidence)
    return problem(KIND, "ReplicasOscillating", evidence, recommendation)
