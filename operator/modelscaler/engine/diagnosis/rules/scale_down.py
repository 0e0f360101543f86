"""ScaleDownTooFast: a scale-up soon after a scale-down, more than once."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from modelscaler.engine.diagnosis.context import Context
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import longer_scale_down_delay
from modelscaler.engine.diagnosis.rules.base import NO_SAMPLES, absent, problem, unknown
from modelscaler.engine.diagnosis.text import duration_setting, figure_range, span
from modelscaler.engine.history import ScaleEvent


@dataclass(frozen=True, slots=True)
class Comeback:
    """A scale-up soon after scale-downs: seconds since the last of them and since the first of the run."""

    after_last_down: float
    after_first_down: float


def comebacks(events: Sequence[ScaleEvent], soon: float) -> list[Comeback]:
    """The scale-ups within `soon` seconds of a scale-down; a run of step-downs counts from its first step."""
    found: list[Comeback] = []
    first_down: float | None = None
    for before, after in itertools.pairwise(events):
        if before.direction < 0 and first_down is None:
            first_down = before.time
        if before.direction > 0:
            first_down = None
        if (
            first_down is not None
            and before.direction < 0 < after.direction
            and after.time - before.time <= soon
        ):
            found.append(Comeback(after.time - before.time, after.time - first_down))
    return found


def evaluate(ctx: Context) -> Finding:
    """True when sdtf_min_count scale-downs in sdtf_lookback had a scale-up within sdtf_soon_seconds."""
    kind = ConditionType.SCALE_DOWN_TOO_FAST
    dparams = ctx.dparams
    if not ctx.samples and not ctx.scale_events:
        return unknown(kind, "NoData", NO_SAMPLES)
    found = comebacks(ctx.events_within(dparams.sdtf_lookback), dparams.sdtf_soon_seconds)
    gaps = [c.after_last_down for c in found]
    if len(gaps) < dparams.sdtf_min_count:
        return absent(
            kind,
            "ScaleDownsHeld",
            f"{len(gaps)} scale-ups within {span(dparams.sdtf_soon_seconds)} of a scale-down in the last "
            f"{span(dparams.sdtf_lookback)} (threshold {dparams.sdtf_min_count})",
        )
    delay = ctx.params.scale_down_delay
    longest = max(c.after_first_down for c in found)
    evidence = (
        f"{len(gaps)} scale-ups came {figure_range(min(gaps), max(gaps), span)} after a scale-down "
        f"in the last {span(dparams.sdtf_lookback)} ({span(longest)} at most after the scale-downs began), "
        f"with scaleDownDelay {duration_setting(delay)}"
    )
    recommendation = longer_scale_down_delay(
        ctx.params,
        delay + longest,
        dparams.delay_margin,
        f"the demand dropped about one delay before the scale-downs began and came back {span(longest)} "
        f"after: a delay of the two (x {dparams.delay_margin:g}) keeps the replicas",
        evidence,
    )
    return problem(kind, "ScaleUpSoonAfterScaleDown", evidence, recommendation)
