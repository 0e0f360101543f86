"""AsyncBackpressure: the async queue growing over a window (requests arrive faster than served)."""

from __future__ import annotations

import math

from modelscaler.engine.diagnosis.context import Context, known, slope
from modelscaler.engine.diagnosis.model import ConditionType, Finding, Recommendation
from modelscaler.engine.diagnosis.recommend import concurrency_target, more_max_replicas
from modelscaler.engine.diagnosis.rules.base import absent, problem, unknown
from modelscaler.engine.diagnosis.text import num, span, whole_up

KIND = ConditionType.ASYNC_BACKPRESSURE


def evaluate(ctx: Context) -> Finding:
    """True when the queue's least-squares slope and growth over async_window pass their thresholds."""
    dparams = ctx.dparams
    lookback = ctx.window(dparams.async_window)
    points = [(s.time, q) for s in lookback if (q := known(s.queue_size)) is not None]
    if len(points) < dparams.async_min_samples:
        return unknown(
            KIND,
            "NoQueueData",
            f"{len(points)} async queue readings in the last {span(dparams.async_window)} "
            f"(needs {dparams.async_min_samples}); the server may not export a queue",
        )
    rate_of_growth = slope(points)
    if not math.isfinite(rate_of_growth):
        return unknown(KIND, "NoQueueData", "async queue readings too large to fit a trend")
    growth = rate_of_growth * (points[-1][0] - points[0][0])
    figures = (
        f"async queue {num(points[0][1])} -> {num(points[-1][1])} over the last {span(dparams.async_window)} "
        f"(trend {num(rate_of_growth * 60)}/min)"
    )
    if rate_of_growth < dparams.async_min_slope or growth < dparams.async_min_growth:
        return absent(KIND, "QueueDraining", f"{figures}: not growing")
    served = [r for s in lookback if (r := known(s.request_rate)) is not None and r > 0]
    if not served:
        return problem(KIND, "QueueGrowing", f"{figures}; request rate unknown, so no value to suggest")
    served_rate = sum(served) / len(served)
    needed_factor = (served_rate + rate_of_growth) / served_rate
    latest = lookback[-1]
    evidence = (
        f"{figures}; served {num(served_rate)}/s, so about {num(served_rate + rate_of_growth)}/s arrive: "
        f"x {num(needed_factor)} the capacity"
    )
    recommendation: Recommendation | None
    if latest.desired_replicas >= latest.max_replicas:
        recommendation = more_max_replicas(
            ctx.params,
            max(latest.max_replicas + 1, whole_up(latest.max_replicas * needed_factor)),
            "at maxReplicas: more replicas in proportion to arrivals over throughput",
            evidence,
        )
    else:
        recommendation = concurrency_target(
            ctx.params,
            ctx.params.concurrency_target / needed_factor,
            "below maxReplicas: a lower target makes the engine run replicas in proportion to arrivals",
            evidence,
        )
    return problem(KIND, "QueueGrowing", evidence, recommendation)
