"""Diagnosis: the autoscaling troubleshooting table, made automatic, with recommended values.

Pure rules over one deployment's recent history (no kopf, kubernetes or
prometheus imports, no clock: `now` is an argument). Call once per tick (the
operator) or per replayed interval (the simulator):

    from modelscaler.engine.diagnosis import (
        DiagnosisInput, DiagnosisParams, DiagnosisState, diagnose, recommendations, summary,
    )

    history = DiagnosisInput(samples=..., scale_events=..., restarts=..., pod_starts=...,
                             current_template_hash="6d4f8c9b7")
    dparams = params_from_diagnosis_spec(spec.diagnosis)  # modelscaler.engine.diagnosis.spec
    findings, state = diagnose(history, scaling_params, dparams, state, now)
    # + lastTransitionTime on flips:
    status["conditions"] = [f.to_condition() for f in findings]
    status["recommendations"] = [r.to_dict() for r in recommendations(findings)]  # one per setting
    printer_column = summary(findings)  # "Healthy", "AtMaxReplicas", "OOMKilled", ...
    stored = state.to_dict()  # DiagnosisState.from_dict(stored) next time

`findings` has one Finding per ConditionType, always in the same (severity)
order, each with status "True" (problem present), "False" or "Unknown" (data
missing), a one-word reason, a message with the evidence in figures and times,
and for True ones the recommended settings (spec path, current, suggested value).
A True condition stays True until its evidence has been absent for
DiagnosisParams.clear_after (hysteresis, remembered in the returned state).
Finding.since says when it turned True; Finding.held that it is kept by hysteresis.
docs/diagnosis.md describes each rule, its thresholds and its formulas.
"""

from modelscaler.engine.diagnosis.context import scale_events_from_samples
from modelscaler.engine.diagnosis.diagnose import HEALTHY, diagnose, recommendations, summary
from modelscaler.engine.diagnosis.model import (
    ConditionStatus,
    ConditionType,
    DiagnosisInput,
    DiagnosisParams,
    Finding,
    Recommendation,
)
from modelscaler.engine.diagnosis.state import ActiveCondition, DiagnosisState

__all__ = [
    "HEALTHY",
    "ActiveCondition",
    "ConditionStatus",
    "ConditionType",
    "DiagnosisInput",
    "DiagnosisParams",
    "DiagnosisState",
    "Finding",
    "Recommendation",
    "diagnose",
    "recommendations",
    "scale_events_from_samples",
    "summary",
]
