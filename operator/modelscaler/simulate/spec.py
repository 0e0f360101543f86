"""Reading the ModelDeployment YAML a what-if run takes its settings from.

The file is validated by the same pydantic models the operator and the CRD use
(modelscaler.api), then turned into engine settings by params_from_spec, so a
spec that `kubectl apply` would refuse is refused here with the same field path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from modelscaler.api.spec import ModelDeploymentSpec
from modelscaler.engine.params import params_from_spec
from modelscaler.engine.types import ScalingParams


class SpecError(ValueError):
    """A ModelDeployment file that cannot be used, with the field that is wrong."""


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """The engine settings and the latency objective (seconds) of one ModelDeployment."""

    params: ScalingParams
    latency_objective: float
    name: str


def _camel_path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            head, *rest = str(item).split("_")
            parts.append("." + head + "".join(word.title() for word in rest))
    return "spec" + "".join(parts)


def parse_spec_document(document: Any, source: str) -> LoadedSpec:
    """Validates one ModelDeployment object (or a bare spec mapping) into engine settings."""
    if not isinstance(document, dict):
        raise SpecError(f"{source}: expected a ModelDeployment mapping, got {type(document).__name__}")
    kind = document.get("kind")
    if kind is not None and kind != "ModelDeployment":
        raise SpecError(f"{source}: kind is {kind!r}, expected ModelDeployment")
    raw_spec = document.get("spec") if "spec" in document or kind else document
    if not isinstance(raw_spec, dict):
        raise SpecError(f"{source}: spec must be a mapping")
    try:
        spec = ModelDeploymentSpec.model_validate(raw_spec)
    except ValidationError as error:
        problems = [f"{_camel_path(tuple(item['loc']))}: {item['msg']}" for item in error.errors()]
        raise SpecError(f"{source}: invalid ModelDeployment: " + "; ".join(problems)) from None
    metadata = document.get("metadata")
    name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
    return LoadedSpec(
        params=params_from_spec(spec),
        latency_objective=spec.diagnosis.latency_objective.seconds,
        name=name or Path(source).stem,
    )


def load_spec(path: Path) -> LoadedSpec:
    """Reads a ModelDeployment YAML file (the first ModelDeployment of a multi-document file)."""
    try:
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    except OSError as error:
        raise SpecError(f"{path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML ({error})") from None
    if not documents:
        raise SpecError(f"{path}: the file is empty")
    chosen = next((d for d in documents if isinstance(d, dict) and d.get("kind") == "ModelDeployment"), None)
    return parse_spec_document(chosen if chosen is not None else documents[0], str(path))
