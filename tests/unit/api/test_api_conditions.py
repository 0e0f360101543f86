"""Conditions: lastTransitionTime moves only on a status flip, and the list keeps its order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelscaler.api.conditions import (
    Condition,
    diagnosis_summary,
    find_condition,
    is_status,
    remove_condition,
    set_condition,
)
from modelscaler.api.timestamps import parse_rfc3339, rfc3339

T0 = 1_764_482_400.0  # 2025-11-30T06:00:00Z
T1 = T0 + 300


def cond(type_: str, status: str, reason: str = "Because", message: str = "") -> Condition:
    return Condition.model_validate({"type": type_, "status": status, "reason": reason, "message": message})


def test_a_new_condition_is_appended_with_now_as_transition_time() -> None:
    result = set_condition([cond("Ready", "True")], cond("ScalingActive", "True"), T0)
    assert [c.type for c in result] == ["Ready", "ScalingActive"]
    assert result[1].last_transition_time == "2025-11-30T06:00:00Z"


def test_same_status_keeps_the_transition_time_but_takes_the_new_reason_and_message() -> None:
    first = set_condition([], cond("ScalingActive", "False", "NoData", "no series"), T0)
    second = set_condition(first, cond("ScalingActive", "False", "StaleData", "sample 40 s old"), T1)
    assert second[0].last_transition_time == rfc3339(T0)
    assert (second[0].reason, second[0].message) == ("StaleData", "sample 40 s old")


def test_a_status_flip_moves_the_transition_time() -> None:
    first = set_condition([], cond("Ready", "False"), T0)
    flipped = set_condition(first, cond("Ready", "True"), T1)
    assert flipped[0].last_transition_time == rfc3339(T1)


def test_order_is_stable_and_the_input_is_not_changed() -> None:
    conditions = [cond("Ready", "True"), cond("ScalingActive", "True"), cond("Thrashing", "False")]
    before = [c.model_copy() for c in conditions]
    result = set_condition(conditions, cond("ScalingActive", "False", "NoData"), T1)
    assert [c.type for c in result] == ["Ready", "ScalingActive", "Thrashing"]
    assert conditions == before


def test_an_explicit_transition_time_on_a_flip_is_kept() -> None:
    new = cond("Ready", "True").model_copy(update={"last_transition_time": "2025-01-01T00:00:00Z"})
    result = set_condition([cond("Ready", "False")], new, T1)
    assert result[0].last_transition_time == "2025-01-01T00:00:00Z"


def test_now_may_be_an_aware_datetime_but_not_a_naive_one() -> None:
    aware = datetime(2025, 11, 30, 6, 0, 0, 700000, tzinfo=UTC)
    assert set_condition([], cond("Ready", "True"), aware)[0].last_transition_time == "2025-11-30T06:00:00Z"
    with pytest.raises(ValueError, match="naive"):
        set_condition([], cond("Ready", "True"), datetime(2025, 11, 30))


def test_rfc3339_round_trips_whole_seconds() -> None:
    assert parse_rfc3339(rfc3339(T0 + 0.9)) == T0


def test_find_remove_and_status_checks() -> None:
    conditions = [cond("Ready", "True"), cond("Thrashing", "True")]
    found = find_condition(conditions, "Thrashing")
    assert found is not None
    assert found.status == "True"
    assert find_condition(conditions, "Overprovisioned") is None
    assert is_status(conditions, "Ready", "True")
    assert not is_status(conditions, "Ready", "False")
    assert [c.type for c in remove_condition(conditions, "Ready")] == ["Thrashing"]


@pytest.mark.parametrize(
    ("conditions", "summary"),
    [
        ([], "Healthy"),
        ([cond("Ready", "True"), cond("Thrashing", "False")], "Healthy"),
        (
            [cond("Ready", "True"), cond("FrequentRestarts", "True", "OOMKilled"), cond("Thrashing", "True")],
            "OOMKilled",
        ),
        (
            [cond("ScalingActive", "False", "MetricsUnavailable"), cond("Thrashing", "True")],
            "MetricsUnavailable",
        ),
        ([cond("ScalingLimited", "True", "TooManyReplicas")], "Healthy"),
        ([cond("ScalingActive", "Unknown", "Starting")], "Healthy"),
    ],
)
def test_diagnosis_summary_names_the_first_problem(conditions: list[Condition], summary: str) -> None:
    assert diagnosis_summary(conditions) == summary


@pytest.mark.parametrize(
    "bad", [{"status": "Maybe"}, {"reason": "two words"}, {"reason": ""}, {"type": "has space"}]
)
def test_the_condition_shape_is_enforced(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        Condition.model_validate({"type": "Ready", "status": "True", "reason": "Fine", **bad})
