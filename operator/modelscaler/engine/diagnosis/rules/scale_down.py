"""ScaleDownTooFast: a scale-up soon after a scale-down, more than once."""

from __future__ import annotations

import itertools

from modelscaler.engine.diagnosis.context import Context
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import longer_scale_down_delay
from modelscaler.engine.diagnosis.rules.base import NO_SAMPLES, absent, problem, unknown
from modelscaler.engine.diagnosis.text import duration_setting, figure_range, span


def evaluate(ctx: Context) -> Finding:
    """True when sdtf_min_count scale-downs in sdtf_lookback had a scale-up within sdtf_soon_seconds."""
    kind = ConditionType.SCALE_DOWN_TOO_FAST
    dparams = ctx.dparams
    if not ctx.samples and not ctx.scale_events:
        return unknown(kind, "NoData", NO_SAMPLES)
    events = ctx.events_within(dparams.sdtf_lookback)
    gaps = [
        after.time - before.time
        for before, after in itertools.pairwise(events)
        if before.direction < 0 < after.direction and after.time - before.time <= dparams.sdtf_soon_seconds
    ]
    if len(gaps) < dparams.sdtf_min_count:
        return absent(
            kind,
            "ScaleDownsHeld",
            f"{len(gaps)} scale-ups within {span(dparams.sdtf_soon_seconds)} of a scale-down in the last "
            f"{span(dparams.sdtf_lookback)} (threshold {dparams.sdtf_min_count})",
        )
    delay = ctx.params.scale_down_delay
    evidence = (
        f"{len(gaps)} scale-ups came {figure_range(min(gaps), max(gaps), span)} after a scale-down "
        f"in the last {span(dparams.sdtf_lookback)}, with scaleDownDelay {duration_setting(delay)}"
    )
    recommendation = longer_scale_down_delay(
        ctx.params,
        delay + max(gaps),
        dparams.delay_margin,
        f"the demand came back within the current delay + {span(max(gaps))} of dropping, so a delay that "
        f"long (x {dparams.delay_margin:g}) keeps the replicas",
        evidence,
    )
    return problem(kind, "ScaleUpSoonAfterScaleDown", evidence, recommendation)
