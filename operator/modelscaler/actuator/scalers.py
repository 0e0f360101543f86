"""Which other autoscalers target a Deployment: HorizontalPodAutoscalers and KEDA ScaledObjects.

Pure: takes the listed objects as dicts and returns readable names such as
"HorizontalPodAutoscaler/foo". Two writers of one replica count fight each other,
so the runtime holds and reports a condition when this list is not empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

HPA_KIND = "HorizontalPodAutoscaler"
SCALED_OBJECT_KIND = "ScaledObject"


def _targets_deployment(scale_target_ref: object, deployment_name: str) -> bool:
    if not isinstance(scale_target_ref, Mapping) or scale_target_ref.get("name") != deployment_name:
        return False
    # KEDA defaults the kind to Deployment; the HPA requires it.
    kind = scale_target_ref.get("kind") or "Deployment"
    api_version = str(scale_target_ref.get("apiVersion") or "apps/v1")
    return kind == "Deployment" and api_version.split("/")[0] in {"apps", "extensions"}


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def competing_scalers(
    deployment_name: str,
    hpas: Iterable[Mapping[str, Any]],
    scaled_objects: Iterable[Mapping[str, Any]] = (),
) -> list[str]:
    """The HPAs and ScaledObjects whose scaleTargetRef is the Deployment, as sorted "Kind/name".

    An HPA that a listed ScaledObject controls (KEDA creates one per ScaledObject) is
    folded into its ScaledObject, so each competitor is named once.
    """
    competitors: set[str] = set()
    scaled_object_names: set[str] = set()
    for scaled_object in scaled_objects:
        if _targets_deployment((scaled_object.get("spec") or {}).get("scaleTargetRef"), deployment_name):
            scaled_object_names.add(_name(scaled_object))
            competitors.add(f"{SCALED_OBJECT_KIND}/{_name(scaled_object)}")
    for hpa in hpas:
        if not _targets_deployment((hpa.get("spec") or {}).get("scaleTargetRef"), deployment_name):
            continue
        owners = (hpa.get("metadata") or {}).get("ownerReferences") or []
        if any(o.get("kind") == SCALED_OBJECT_KIND and o.get("name") in scaled_object_names for o in owners):
            continue
        competitors.add(f"{HPA_KIND}/{_name(hpa)}")
    return sorted(competitors)
