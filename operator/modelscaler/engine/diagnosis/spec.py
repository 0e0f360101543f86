"""From the user's spec.diagnosis to the rules' thresholds (DiagnosisParams).

The spec names the few thresholds users tune; every other threshold keeps its
documented default (docs/diagnosis.md). `timeScale` then compresses the rules' time:
every duration is multiplied by it and every rate divided by it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelscaler.api.durations import parse_duration
from modelscaler.api.spec import DiagnosisSpec
from modelscaler.engine.diagnosis.model import DiagnosisParams

# The thresholds that are durations (seconds) of the deployment's own history: a deployment whose
# traffic and settings run k times faster shows the same evidence in 1/k of the time.
SCALED_DURATIONS = (
    "restart_window",
    "clear_after",
    "thrash_lookback",
    "thrash_align_seconds",
    "capacity_lookback",
    "capacity_min_seconds",
    "cold_lookback",
    "cold_min_gap_seconds",
    "cold_base_window",
    "ctt_lookback",
    "ctt_min_seconds",
    "ctt_reference_window",
    "sdtf_lookback",
    "sdtf_soon_seconds",
    "async_window",
    "overprov_window",
    "kv_lookback",
    "kv_min_seconds",
)
# Thresholds per second of that history: k times faster means k times more per second.
SCALED_RATES = ("async_min_slope",)
# max_sample_gap is a duration too, but of the operator's tick (a gap in the data), not of the
# deployment's tempo: it is never scaled. Every other threshold is a count, share or factor.
UNSCALED_DURATIONS = ("max_sample_gap",)


def time_scaled(params: DiagnosisParams, scale: float) -> DiagnosisParams:
    """`params` on a time axis compressed by `scale` (0 < scale; 1 returns them unchanged).

    Durations in SCALED_DURATIONS are multiplied by `scale`, rates in SCALED_RATES divided
    by it; counts, shares, factors, latencies and max_sample_gap are kept.
    """
    if scale <= 0:
        raise ValueError(f"the time scale must be positive, not {scale}")
    if scale == 1:
        return params
    changes: dict[str, Any] = {name: getattr(params, name) * scale for name in SCALED_DURATIONS}
    changes.update({name: getattr(params, name) / scale for name in SCALED_RATES})
    return replace(params, **changes)


def params_from_diagnosis_spec(spec: DiagnosisSpec, base: DiagnosisParams | None = None) -> DiagnosisParams:
    """The DiagnosisParams of one ModelDeployment's spec.diagnosis.

    latencyObjective and restartThreshold map one to one. lookback ("how much recent
    history the rules judge") sets the long windows: ScaleDownTooFast's look-back, the
    reference windows of ConcurrencyTargetTooHigh and of ColdStartDelay's base load, and
    Overprovisioned's window; the short detection windows (Thrashing 20 min, capacity
    and KV cache a few minutes) stay as they are. coldStartThreshold is how long a gap
    of starting replicas must last; lowUtilization and kvCacheSaturation map to
    Overprovisioned's and KVCacheSaturated's thresholds. Last, timeScale compresses every
    duration of the result, lookback and coldStartThreshold included (see time_scaled).
    """
    lookback = parse_duration(spec.lookback)
    mapped = replace(
        base or DiagnosisParams(),
        latency_percentile=float(spec.latency_objective.percentile),
        latency_objective_seconds=float(spec.latency_objective.seconds),
        restart_threshold=spec.restart_threshold,
        sdtf_lookback=lookback,
        ctt_reference_window=lookback,
        cold_base_window=lookback,
        overprov_window=lookback,
        cold_min_gap_seconds=parse_duration(spec.cold_start_threshold),
        overprov_max_utilization=spec.low_utilization,
        kv_full_usage=spec.kv_cache_saturation,
    )
    return time_scaled(mapped, spec.time_scale)
