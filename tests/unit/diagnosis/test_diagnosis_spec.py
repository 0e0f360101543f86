"""spec.diagnosis -> DiagnosisParams: what the user tunes reaches the rules."""

from __future__ import annotations

from modelscaler.api.spec import DiagnosisSpec
from modelscaler.engine.diagnosis import DiagnosisParams
from modelscaler.engine.diagnosis.spec import params_from_diagnosis_spec


def test_every_spec_setting_reaches_the_rules() -> None:
    spec = DiagnosisSpec.model_validate(
        {
            "latencyObjective": {"percentile": 99, "seconds": 0.5},
            "restartThreshold": 5,
            "lookback": "2h",
            "coldStartThreshold": "90s",
            "lowUtilization": 0.2,
            "kvCacheSaturation": 0.95,
        }
    )

    params = params_from_diagnosis_spec(spec)

    assert (params.latency_percentile, params.latency_objective_seconds) == (99.0, 0.5)
    assert params.restart_threshold == 5
    assert params.sdtf_lookback == params.overprov_window == params.cold_base_window == 7200
    assert params.ctt_reference_window == 7200
    assert params.cold_min_gap_seconds == 90
    assert params.overprov_max_utilization == 0.2
    assert params.kv_full_usage == 0.95


def test_the_spec_defaults_are_the_rules_defaults() -> None:
    from_spec = params_from_diagnosis_spec(DiagnosisSpec())

    assert from_spec == DiagnosisParams()
