"""From the user's spec.diagnosis to the rules' thresholds (DiagnosisParams).

The spec names the few thresholds users tune; every other threshold keeps its
documented default (docs/diagnosis.md).
"""

from __future__ import annotations

from dataclasses import replace

from modelscaler.api.durations import parse_duration
from modelscaler.api.spec import DiagnosisSpec
from modelscaler.engine.diagnosis.model import DiagnosisParams


def params_from_diagnosis_spec(spec: DiagnosisSpec, base: DiagnosisParams | None = None) -> DiagnosisParams:
    """The DiagnosisParams of one ModelDeployment's spec.diagnosis.

    latencyObjective and restartThreshold map one to one. lookback ("how much recent
    history the rules judge") sets the long windows: ScaleDownTooFast's look-back, the
    reference windows of ConcurrencyTargetTooHigh and of ColdStartDelay's base load, and
    Overprovisioned's window; the short detection windows (Thrashing 20 min, capacity
    and KV cache a few minutes) stay as they are. coldStartThreshold is how long a gap
    of starting replicas must last; lowUtilization and kvCacheSaturation map to
    Overprovisioned's and KVCacheSaturated's thresholds.
    """
    lookback = parse_duration(spec.lookback)
    return replace(
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
