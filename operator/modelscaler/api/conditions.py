"""Status conditions in the metav1.Condition shape, and pure functions that update them.

A condition's `lastTransitionTime` moves only when its `status` flips; a new
reason or message alone keeps it. Lists keep their order (a condition keeps its
place, a new one goes last), so status patches stay small and stable.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Literal

from pydantic import Field

from modelscaler.api.rules import WireModel
from modelscaler.api.timestamps import rfc3339

ConditionStatus = Literal["True", "False", "Unknown"]

# The HPA-style state conditions (True = fine).
READY = "Ready"
SCALING_ACTIVE = "ScalingActive"
ABLE_TO_SCALE = "AbleToScale"
SCALING_LIMITED = "ScalingLimited"
STATE_CONDITION_TYPES = (READY, SCALING_ACTIVE, ABLE_TO_SCALE, SCALING_LIMITED)

# The diagnosis conditions (True = a problem was found), one per rule.
DIAGNOSIS_CONDITION_TYPES = (
    "Thrashing",
    "CapacityExhausted",
    "ColdStartDelay",
    "ConcurrencyTargetTooHigh",
    "ScaleDownTooFast",
    "FrequentRestarts",
    "AsyncBackpressure",
    "Overprovisioned",
    "KVCacheSaturated",
)
# State conditions whose False status is a problem worth showing in the DIAGNOSIS column.
_PROBLEM_WHEN_FALSE = (READY, SCALING_ACTIVE, ABLE_TO_SCALE)
HEALTHY = "Healthy"

CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(WireModel):
    """One aspect of the deployment's state (metav1.Condition)."""

    type: str = Field(max_length=316, pattern=CONDITION_TYPE_PATTERN)
    """The aspect, in CamelCase: Ready, ScalingActive, AbleToScale, ScalingLimited, or a diagnosis
    such as Thrashing or CapacityExhausted (for those, True means the problem is present)."""

    status: ConditionStatus
    """True, False or Unknown."""

    reason: str = Field(min_length=1, max_length=1024, pattern=CONDITION_REASON_PATTERN)
    """Why, as one CamelCase word (e.g. MetricsUnavailable, TooManyReplicas, OOMKilled)."""

    message: str = Field(default="", max_length=32768)
    """Why, for a person, with the figures behind it."""

    last_transition_time: str | None = Field(
        default=None, max_length=64, json_schema_extra={"format": "date-time"}
    )
    """When the status last changed (RFC 3339)."""

    observed_generation: int | None = Field(default=None, ge=0)
    """The metadata.generation of the spec this condition was computed from."""


def find_condition(conditions: Sequence[Condition], condition_type: str) -> Condition | None:
    """The condition of that type, or None."""
    return next((c for c in conditions if c.type == condition_type), None)


def is_status(conditions: Sequence[Condition], condition_type: str, status: ConditionStatus) -> bool:
    """Whether the condition of that type exists with that status."""
    found = find_condition(conditions, condition_type)
    return found is not None and found.status == status


def set_condition(conditions: Sequence[Condition], new: Condition, now: float | datetime) -> list[Condition]:
    """Returns the list with `new` set in place of its type (or appended), leaving the input untouched.

    lastTransitionTime becomes `now` (Unix seconds or an aware datetime) when
    the condition is new or its status flips, unless `new` carries its own;
    otherwise the old transition time is kept.
    """
    result = list(conditions)
    for index, old in enumerate(result):
        if old.type != new.type:
            continue
        if old.status == new.status:
            transition = old.last_transition_time or new.last_transition_time or rfc3339(now)
        else:
            transition = new.last_transition_time or rfc3339(now)
        result[index] = new.model_copy(update={"last_transition_time": transition})
        return result
    result.append(new.model_copy(update={"last_transition_time": new.last_transition_time or rfc3339(now)}))
    return result


def remove_condition(conditions: Sequence[Condition], condition_type: str) -> list[Condition]:
    """Returns the list without the condition of that type."""
    return [c for c in conditions if c.type != condition_type]


def is_problem(condition: Condition, diagnosis_types: Collection[str] = DIAGNOSIS_CONDITION_TYPES) -> bool:
    """Whether the condition reports a problem: a diagnosis that is True, or Ready/ScalingActive/AbleToScale
    that is False."""
    if condition.type in diagnosis_types:
        return condition.status == "True"
    return condition.type in _PROBLEM_WHEN_FALSE and condition.status == "False"


def diagnosis_summary(
    conditions: Sequence[Condition], diagnosis_types: Collection[str] = DIAGNOSIS_CONDITION_TYPES
) -> str:
    """The DIAGNOSIS printer column: the reason of the first problem condition, or "Healthy"."""
    first = next((c for c in conditions if is_problem(c, diagnosis_types)), None)
    return first.reason if first is not None else HEALTHY
