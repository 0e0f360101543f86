"""KVCacheSaturated (vLLM / SGLang): KV cache near full while requests wait."""

from __future__ import annotations

from modelscaler.engine.diagnosis.context import Context, known, percentile
from modelscaler.engine.diagnosis.model import ConditionType, Finding
from modelscaler.engine.diagnosis.recommend import concurrency_target
from modelscaler.engine.diagnosis.rules.base import absent, problem, unknown
from modelscaler.engine.diagnosis.text import num, pct, span
from modelscaler.engine.history import Sample

KIND = ConditionType.KV_CACHE_SATURATED


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
    running = [r for s, _ in saturated if (r := ctx.in_service_per_replica(s)) is not None]
    if running:
        per_replica = percentile(running, 50)
        evidence += f"; {num(per_replica)} requests running per replica fill it"
        why = f"the running requests per replica that keep the KV cache near {pct(dparams.kv_target_usage)}"
    else:
        per_replica = ctx.params.concurrency_target
        why = (
            f"the target scaled by {pct(dparams.kv_target_usage)} / {pct(usage)} usage (running requests "
            "unknown): a step, which the next ticks judge"
        )
    fitting = per_replica * dparams.kv_target_usage / max(usage, 1e-9)
    if fitting >= ctx.params.concurrency_target:
        return problem(KIND, "KVCacheFull", evidence)
    return problem(KIND, "KVCacheFull", evidence, concurrency_target(ctx.params, fitting, why, evidence))
