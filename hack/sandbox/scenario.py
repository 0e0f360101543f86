"""The sandbox's demo: its ModelDeployments and the traffic that drives them (examples/sandbox/).

The traffic file is the simulator's own --config format. Before the simulator reads it, each entry
is moved to the sandbox's namespace, `$MODELSCALER_TRACES` is expanded, and a trace whose file is
missing is replaced by a generated step pattern of the same shape, with a note saying so.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import string
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO / "examples" / "sandbox"
MODELS_DIR = EXAMPLES_DIR / "models"
TRAFFIC_FILE = EXAMPLES_DIR / "traffic.yaml"
CRD_FILE = REPO / "crds" / "serving.modelscaler.io_modeldeployments.yaml"
CRD_NAME = "modeldeployments.serving.modelscaler.io"
TRACES_ENV = "MODELSCALER_TRACES"

# The Azure LLM conversation trace in figures (shared/traces/README.md): its mean request rate,
# the mean service time its tokens give under the simulator's token model, and its span.
FALLBACK_MEAN_RATE = 5.5
FALLBACK_SERVICE_SECONDS = 2.3
FALLBACK_SPAN_SECONDS = 3600.0
# Relative load over the trace's hour in nine equal parts (mean 1): up to a peak two thirds in, then down.
FALLBACK_SHAPE = (0.8, 0.9, 0.95, 1.05, 1.2, 1.35, 1.15, 0.85, 0.75)


def default_traces_dir() -> Path:
    """The project's shared traces folder, next to the repository."""
    return REPO.parent / "shared" / "traces"


def traces_dir() -> Path:
    """$MODELSCALER_TRACES, else the shared traces folder next to the repository."""
    explicit = os.environ.get(TRACES_ENV)
    return Path(explicit).expanduser() if explicit else default_traces_dir()


def model_files() -> list[Path]:
    """The sandbox's ModelDeployment manifests, in name order."""
    return sorted(MODELS_DIR.glob("*.yaml"))


def model_names() -> list[str]:
    """metadata.name of each sandbox ModelDeployment, in file order."""
    names = []
    for path in model_files():
        document = yaml.safe_load(path.read_text())
        names.append(str(document["metadata"]["name"]))
    return names


@dataclasses.dataclass(frozen=True)
class TrafficPlan:
    """The simulator's resolved --config and one line per deployment saying what drives it."""

    config: dict[str, Any]
    notes: list[str]


def fallback_steps(compress: float) -> tuple[list[list[float]], float]:
    """Steps with the conversation trace's mean rate and hourly shape, time-compressed: (steps, period)."""
    span = FALLBACK_SPAN_SECONDS / compress
    step_seconds = span / len(FALLBACK_SHAPE)
    steps = [
        [round(index * step_seconds, 3), round(FALLBACK_MEAN_RATE * compress * share, 3)]
        for index, share in enumerate(FALLBACK_SHAPE)
    ]
    return steps, round(span, 3)


def _trace_path(raw: str, traces: Path) -> Path:
    expanded = string.Template(raw).safe_substitute({**os.environ, TRACES_ENV: str(traces)})
    path = Path(expanded).expanduser()
    return path if path.is_absolute() else TRAFFIC_FILE.parent / path


def _describe(profile: dict[str, Any]) -> str:
    if profile.get("trace"):
        trace = profile["trace"]
        return f"trace {Path(trace['path']).name} at {trace.get('compress', 1)}x"
    if profile.get("steps"):
        steps = ", ".join(f"{rate:g}/s from {offset:g}s" for offset, rate in profile["steps"])
        period = f", every {profile['period']:g}s" if profile.get("period") else ""
        return f"steps {steps}{period}"
    return f"Poisson {profile.get('rate', 0):g} requests/s"


def resolve_traffic(document: dict[str, Any], namespace: str, traces: Path) -> TrafficPlan:
    """The traffic document moved to `namespace`, trace paths made absolute, missing traces replaced."""
    resolved = copy.deepcopy(document)
    notes = []
    for entry in resolved.get("traffic") or []:
        entry["namespace"] = namespace
        profile: dict[str, Any] = entry.setdefault("profile", {})
        trace = profile.get("trace")
        if trace:
            path = _trace_path(str(trace["path"]), traces)
            if path.is_file():
                trace["path"] = str(path)
            else:
                compress = float(trace.get("compress", 1.0))
                del profile["trace"]
                profile["steps"], profile["period"] = fallback_steps(compress)
                profile["service"] = {"kind": "exponential", "seconds": FALLBACK_SERVICE_SECONDS}
                notes.append(
                    f"{entry['name']}: trace {path} not found (set {TRACES_ENV} to the traces folder); "
                    "using a generated pattern of the same shape instead"
                )
        notes.append(f"{entry['name']}: {profile.get('engine', 'generic')}, {_describe(profile)}")
    return TrafficPlan(resolved, notes)


def load_traffic(namespace: str) -> TrafficPlan:
    """examples/sandbox/traffic.yaml resolved for `namespace` and the traces available here."""
    document: dict[str, Any] = yaml.safe_load(TRAFFIC_FILE.read_text()) or {}
    return resolve_traffic(document, namespace, traces_dir())
