"""Thrashing: replica changes reversing direction repeatedly, with latency spikes aligned with them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from modelscaler.engine.diagnosis.context import Context, percentile
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import longer_scale_down_delay
from modelscaler.engine.diagnosis.rules.base import NO_SAMPLES, absent, problem, unknown
from modelscaler.engine.diagnosis.text import duration_setting, secs, span
from modelscaler.engine.history import ScaleEvent

KIND = ConditionType.THRASHING


@dataclass(frozen=True, slots=True)
class Leg:
    """A run of scale events in one direction: where it started, the replica change, and its first event."""

    first: ScaleEvent
    change: int


def legs(events: Sequence[ScaleEvent]) -> list[Leg]:
    """Groups successive events of the same direction (a step-down in stages is one leg)."""
    result: list[Leg] = []
    for event in events:
        step = event.to_replicas - event.from_replicas
        if result and result[-1].first.direction == event.direction:
            result[-1] = Leg(result[-1].first, result[-1].change + step)
        else:
            result.append(Leg(event, step))
    return result


def reversals(events: Sequence[ScaleEvent], min_retrace: float) -> list[ScaleEvent]:
    """The first events of legs that swing back over at least `min_retrace` of the leg before them.

    An oscillation goes back over the same range; a small correction after an overshoot
    (20 -> 17 after 2 -> 20) or the turn of a daily ramp at its peak is one swing, not a pattern.
    """
    return [
        after.first
        for before, after in itertools.pairwise(legs(events))
        if abs(after.change) >= min_retrace * abs(before.change)
    ]


def oscillation_period(turns: Sequence[ScaleEvent]) -> float:
    """The longest time from a reversal to the next in the same direction (peak to peak, trough to trough).

    With no two of the same direction, twice the longest interval between reversals.
    """
    same_kind = [
        next(
            (later.time - turn.time for later in turns[index + 1 :] if later.direction == turn.direction), 0.0
        )
        for index, turn in enumerate(turns)
    ]
    if max(same_kind, default=0.0) > 0:
        return max(same_kind)
    return 2 * max((b.time - a.time for a, b in itertools.pairwise(turns)), default=0.0)


def latency_alignment(ctx: Context, turns: Sequence[ScaleEvent]) -> tuple[int | None, str]:
    """How many reversals had a latency spike within the alignment window (None: latency unknown),
    and the same in figures."""
    lookback = ctx.window(ctx.dparams.thrash_lookback)
    latencies = [value for sample in lookback if (value := ctx.latency(sample)) is not None]
    if not latencies:
        return None, "latency unknown"
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
        return 0, f"no {ctx.latency_name} spike within {span(align)} of them (median {secs(baseline)})"
    return len(peaks), (
        f"{ctx.latency_name} rose from {secs(baseline)} to {secs(max(peaks))} within {span(align)} "
        f"of {len(peaks)} of them"
    )


def evaluate(ctx: Context) -> Finding:
    """True when the last thrash_lookback holds at least thrash_min_reversals swings back (see reversals)."""
    dparams = ctx.dparams
    if not ctx.samples and not ctx.scale_events:
        return unknown(KIND, "NoData", NO_SAMPLES)
    turns = reversals(ctx.events_within(dparams.thrash_lookback), dparams.thrash_min_retrace)
    if len(turns) < dparams.thrash_min_reversals:
        return absent(
            KIND,
            "NoOscillation",
            f"{len(turns)} direction reversals in the last {span(dparams.thrash_lookback)} "
            f"(threshold {dparams.thrash_min_reversals})",
        )
    period = oscillation_period(turns)
    spiked, alignment = latency_alignment(ctx, turns)
    swing = max(abs(leg.change) for leg in legs(ctx.events_within(dparams.thrash_lookback)))
    if swing <= 1 and spiked == 0:
        # One-replica wobbles that latency does not notice: noise around a rounding edge, not thrash.
        return absent(
            KIND,
            "SmallSwings",
            f"{len(turns)} direction reversals in {span(dparams.thrash_lookback)}, each of one replica, "
            f"and {alignment}",
        )
    evidence = (
        f"{len(turns)} direction reversals in {span(dparams.thrash_lookback)}, one cycle every "
        f"{span(period)} at most; {alignment}"
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
