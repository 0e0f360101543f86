"""The ModelDeployment resource as a whole: its identity (group, version, names) and top-level model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from modelscaler.api.rules import ObjectRule, SpecModel
from modelscaler.api.spec import ModelDeploymentSpec
from modelscaler.api.status import ModelDeploymentStatus

GROUP = "serving.modelscaler.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ModelDeployment"
PLURAL = "modeldeployments"
SINGULAR = "modeldeployment"
SHORT_NAMES = ("md",)
CATEGORIES = ("modelscaler",)
# The object's name also names its Deployment and Service, and a Service name is a DNS-1035 label.
NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
NAME_MAX_LENGTH = 63


def _name_ok(metadata: Mapping[str, Any]) -> bool:
    name = metadata.get("name")
    return not isinstance(name, str) or (
        len(name) <= NAME_MAX_LENGTH and re.match(NAME_PATTERN, name) is not None
    )


class ModelDeployment(SpecModel):
    """A model server run and autoscaled on request concurrency by modelscaler. The operator creates its
    Deployment and Service, scales it, and reports what it sees and why it scaled in the status."""

    object_rules = (
        ObjectRule(
            cel=f"size(self.metadata.name) <= {NAME_MAX_LENGTH} && "
            f"self.metadata.name.matches('{NAME_PATTERN}')",
            message="metadata.name must be a DNS-1035 label (at most 63 lowercase letters, digits and '-', "
            "starting with a letter): it also names the model's Service",
            holds=lambda md: _name_ok(md.metadata),
        ),
    )

    api_version: Literal["serving.modelscaler.io/v1alpha1"] = "serving.modelscaler.io/v1alpha1"
    """APIVersion of the object."""

    kind: Literal["ModelDeployment"] = "ModelDeployment"
    """Kind of the object."""

    metadata: dict[str, Any] = Field(default_factory=dict)
    """Standard object metadata."""

    spec: ModelDeploymentSpec
    """What to run and how to scale it."""

    status: ModelDeploymentStatus | None = None
    """What the operator observed and decided."""
