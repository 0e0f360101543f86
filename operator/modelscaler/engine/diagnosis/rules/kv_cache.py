"""KVCacheSaturated (vLLM / SGLang): KV cache near full while requests wait."""

from __future__ import annotations

from modelscaler.engine.diagnosis.context import Context, known, percentile
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import concurrency_target
from modelscaler.engine.diagnosis.rules.base import absent, problem, unknown
from modelscaler.engine.diagnosis.text import num, pct, span
from modelscaler.engine.history import Sample

KIND = ConditionType.KV_CACHE_SATURATED


def running_per_replica(sample: Sample) -> float | None:
    """Requests being served (not waiting) per Ready replica."""
    concurrency = known(sample.concurrency)
    waiting = known(sample.waiting_requests) or 0.0
    if concurrency is None or sample.ready_replicas < 1:
        return None
    return max(concurrency - waiting, 0.0) / sample.ready_replicas


def evaluate(ctx: Context) -> Finding:
    """True when KV usage >= kv_full_usage with requests waiting for kv_min_seconds of kv_lookback."""
    dparams = ctx.dparams
    lookback = ctx.window(dparams.kv_lookback)
    usage_known = [s for s in lookback if known(s.kv_cache_usage) is not None]
    if not usage_known:
        return unknown(
            KIND,
            "NoKVCacheData",
            f"no KV-cache usage in the last {span(dparams.kv_lookback)} (not vLLM/SGLang?)",
        )

    def full(sample: Sample) -> bool:
        return (known(sample.kv_cache_usage) or 0.0) >= dparams.kv_full_usage

    def waiting(sample: Sample) -> bool:
        return (known(sample.waiting_requests) or 0.0) > 0

    full_ticks = [s for s in usage_known if full(s)]
    if full_ticks and all(known(s.waiting_requests) is None for s in full_ticks):
        return unknown(KIND, "WaitingUnknown", "KV cache full but the number of waiting requests is unknown")
    saturated = [
        (s, d) for s, d in zip(lookback, ctx.durations(lookback), strict=True) if full(s) and waiting(s)
    ]
    saturated_seconds = sum(d for _, d in saturated)
    if saturated_seconds < dparams.kv_min_seconds:
        return absent(
            KIND,
            "KVCacheHasRoom",
            f"KV cache at or above {pct(dparams.kv_full_usage)} with requests waiting for "
            f"{span(saturated_seconds)} of the last {span(dparams.kv_lookback)} "
            f"(threshold {span(dparams.kv_min_seconds)})",
        )
    usage = percentile([known(s.kv_cache_usage) or 0.0 for s, _ in saturated], 50)
    queued = percentile([known(s.waiting_requests) or 0.0 for s, _ in saturated], 50)
    evidence = (
        f"KV cache {pct(usage)} full (median) with {num(queued)} requests waiting, "
        f"for {span(saturated_seconds)} of the last {span(dparams.kv_lookback)}; "
        "or use a GPU with more memory"
    )
    running = [r for s, _ in saturated if (r := running_per_replica(s)) is not None]
    if not running:
        return problem(KIND, "KVCacheFull", f"{evidence}; concurrency unknown, so no target to suggest")
    fitting = percentile(running, 50) * dparams.kv_target_usage / max(usage, 1e-9)
    evidence += f"; {num(percentile(running, 50))} requests running per replica fill it"
    if fitting >= ctx.params.concurrency_target:
        return problem(KIND, "KVCacheFull", evidence)
    recommendation = concurrency_target(
        ctx.params,
        fitting,
        f"the running requests per replica that keep the KV cache near {pct(dparams.kv_target_usage)}",
        evidence,
    )
    return problem(KIND, "KVCacheFull", evidence, recommendation)
