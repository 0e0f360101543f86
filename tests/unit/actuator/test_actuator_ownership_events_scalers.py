"""The small pure parts of the actuator: field ownership, Event aggregation, competing scalers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.unit.actuator.actuator_samples import MD_UID, make_md

from modelscaler.actuator.events import (
    MAX_MESSAGE_LENGTH,
    EventMemory,
    SeenEvent,
    build_event,
    build_repeat_patch,
    event_key,
    truncate_message,
)
from modelscaler.actuator.ownership import FIELD_MANAGER, SCALE_MANAGER, applier_owns, replicas_handover
from modelscaler.actuator.scalers import competing_scalers

NOW = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def deployment_managed_by(*entries: dict[str, Any], replicas: int = 3) -> dict[str, Any]:
    """A live Deployment with the given managedFields entries."""
    return {
        "metadata": {"name": "llama", "namespace": "ml", "managedFields": list(entries)},
        "spec": {"replicas": replicas},
    }


def entry(
    manager: str, operation: str, fields: dict[str, Any], subresource: str | None = None
) -> dict[str, Any]:
    """One managedFields entry."""
    item: dict[str, Any] = {"manager": manager, "operation": operation, "fieldsV1": fields}
    if subresource:
        item["subresource"] = subresource
    return item


OWNS_REPLICAS: dict[str, Any] = {"f:spec": {"f:replicas": {}, "f:template": {}}}
OWNS_TEMPLATE: dict[str, Any] = {"f:spec": {"f:template": {}}}


def test_handover_is_needed_while_the_applier_owns_replicas() -> None:
    live = deployment_managed_by(entry(FIELD_MANAGER, "Apply", OWNS_REPLICAS), replicas=4)

    assert replicas_handover(live) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llama", "namespace": "ml"},
        "spec": {"replicas": 4},
    }


@pytest.mark.parametrize(
    "entries",
    [
        [
            entry(FIELD_MANAGER, "Apply", OWNS_TEMPLATE),
            entry(SCALE_MANAGER, "Update", OWNS_REPLICAS, "scale"),
        ],
        [entry(FIELD_MANAGER, "Update", OWNS_REPLICAS)],
        [entry("kubectl", "Apply", OWNS_REPLICAS)],
        [],
    ],
)
def test_no_handover_when_the_applier_does_not_own_replicas(entries: list[dict[str, Any]]) -> None:
    live = deployment_managed_by(*entries)

    assert not applier_owns(live, FIELD_MANAGER, ("spec", "replicas"))
    assert replicas_handover(live) is None


def test_event_body_regards_the_model_deployment() -> None:
    md = make_md()
    key = event_key(md, "Warning", "CompetingScaler", "HorizontalPodAutoscaler/foo targets llama")

    event = build_event(md, key, NOW, reporting_instance="modelscaler-0")

    assert event["metadata"] == {"generateName": "llama.", "namespace": "ml"}
    assert event["involvedObject"] == {
        "apiVersion": "serving.modelscaler.io/v1alpha1",
        "kind": "ModelDeployment",
        "name": "llama",
        "namespace": "ml",
        "uid": MD_UID,
    }
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "CompetingScaler", 1)
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-03-04T05:06:07Z"
    assert event["source"] == {"component": "modelscaler", "host": "modelscaler-0"}
    assert (event["reportingComponent"], event["reportingInstance"]) == ("modelscaler", "modelscaler-0")


def test_repeat_patch_bumps_count_and_last_timestamp() -> None:
    assert build_repeat_patch(SeenEvent("llama.x", 4), NOW) == {
        "count": 5,
        "lastTimestamp": "2026-03-04T05:06:07Z",
    }


def test_long_messages_are_truncated_to_the_api_limit() -> None:
    long_message = "x" * 5000

    truncated = truncate_message(long_message)

    assert len(truncated) == MAX_MESSAGE_LENGTH
    assert truncated.endswith("...")
    assert truncate_message("short") == "short"
    assert event_key(make_md(), "Normal", "ScaledUp", long_message).message == truncated


def test_event_memory_keys_on_object_type_reason_and_message_and_forgets_the_oldest() -> None:
    md = make_md()
    memory = EventMemory(max_entries=2)
    first = event_key(md, "Normal", "ScaledUp", "1 -> 2")
    second = event_key(md, "Normal", "ScaledUp", "2 -> 3")
    third = event_key(md, "Warning", "ScaledUp", "2 -> 3")

    memory.remember(first, SeenEvent("e1", 1))
    memory.remember(second, SeenEvent("e2", 1))
    assert memory.get(first) == SeenEvent("e1", 1)  # now the most recently used
    memory.remember(third, SeenEvent("e3", 1))

    assert memory.get(second) is None
    assert memory.get(first) == SeenEvent("e1", 1)
    assert memory.get(third) == SeenEvent("e3", 1)
    memory.forget(third)
    assert len(memory) == 1


def hpa(name: str, target: str, kind: str = "Deployment", owner: str | None = None) -> dict[str, Any]:
    """An autoscaling/v2 HPA dict."""
    metadata: dict[str, Any] = {"name": name}
    if owner:
        metadata["ownerReferences"] = [{"kind": "ScaledObject", "name": owner, "controller": True}]
    return {
        "metadata": metadata,
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}},
    }


def test_competing_scalers_are_those_targeting_the_deployment() -> None:
    hpas = [hpa("foo", "llama"), hpa("other", "mistral"), hpa("sts", "llama", kind="StatefulSet")]

    assert competing_scalers("llama", hpas) == ["HorizontalPodAutoscaler/foo"]


def test_keda_scaled_object_is_named_once_not_with_its_hpa() -> None:
    scaled_objects = [
        {"metadata": {"name": "so"}, "spec": {"scaleTargetRef": {"name": "llama"}}},
        {"metadata": {"name": "elsewhere"}, "spec": {"scaleTargetRef": {"name": "mistral"}}},
    ]
    hpas = [hpa("keda-hpa-so", "llama", owner="so"), hpa("manual", "llama")]

    assert competing_scalers("llama", hpas, scaled_objects) == [
        "HorizontalPodAutoscaler/manual",
        "ScaledObject/so",
    ]
