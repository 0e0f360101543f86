"""The ModelDeployment API: pydantic models of spec and status, conditions, and the CRD generator.

Nothing here imports the engine, the runtime or any Kubernetes client.
"""

from modelscaler.api.conditions import Condition, diagnosis_summary, find_condition, set_condition
from modelscaler.api.durations import format_duration, parse_duration
from modelscaler.api.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION, ModelDeployment
from modelscaler.api.spec import (
    AutoscalingSpec,
    DiagnosisSpec,
    LatencyObjective,
    MetricsOverrides,
    ModelDeploymentSpec,
    ServingSpec,
)
from modelscaler.api.status import (
    ConcurrencyStatus,
    HistoryEntry,
    LastDecision,
    LatencyStatus,
    ModelDeploymentStatus,
    Recommendation,
    ScaleDownMemory,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "AutoscalingSpec",
    "ConcurrencyStatus",
    "Condition",
    "DiagnosisSpec",
    "HistoryEntry",
    "LastDecision",
    "LatencyObjective",
    "LatencyStatus",
    "MetricsOverrides",
    "ModelDeployment",
    "ModelDeploymentSpec",
    "ModelDeploymentStatus",
    "Recommendation",
    "ScaleDownMemory",
    "ServingSpec",
    "diagnosis_summary",
    "find_condition",
    "format_duration",
    "parse_duration",
    "set_condition",
]
