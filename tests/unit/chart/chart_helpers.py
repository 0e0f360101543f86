"""Rendering the chart with the real helm binary, for the chart tests (unit and integration).

The helm binary is the one `hack/build-binaries.sh helm` builds into the cache (the local
cluster uses the same one); `helm_binary()` builds it when it is missing.
"""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from hack import cluster as local_cluster

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "modelscaler"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
DASHBOARD = CHART / "dashboards" / "modelscaler.json"
CRD = REPO / "crds" / "serving.modelscaler.io_modeldeployments.yaml"
RELEASE = "ms"
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: ~10x faster
RELEASE_NAMESPACE = "modelscaler-system"


def kube_version() -> str:
    """The Kubernetes version the project pins (the locally built helm defaults to an old one)."""
    return local_cluster.read_versions()["KUBERNETES_VERSION"]


def helm_binary() -> str:
    """Path of the cached helm binary, built from its Go module the first time."""
    binaries = local_cluster.Binaries.from_versions(local_cluster.read_versions())
    if not (binaries.helm_dir / ".done").is_file():
        subprocess.run([str(REPO / "hack" / "build-binaries.sh"), "helm"], check=True)
    return str(binaries.helm)


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries its stderr."""


def run_helm(helm: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Runs helm and returns its stdout; HelmError with stderr when it fails."""
    result = subprocess.run([helm, *args], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def value_args(values_files: Iterable[Path] = (), set_values: Sequence[str] = ()) -> list[str]:
    """`-f FILE` and `--set-json K=V` arguments."""
    args: list[str] = []
    for path in values_files:
        args += ["-f", str(path)]
    for assignment in set_values:
        args += ["--set-json", assignment]
    return args


def render(
    helm: str,
    values_files: Iterable[Path] = (),
    set_values: Sequence[str] = (),
    namespace: str = RELEASE_NAMESPACE,
) -> list[dict[str, Any]]:
    """The chart's rendered manifests (templates only, no CRDs), as dicts (a fresh copy per call)."""
    text = _rendered_text(helm, tuple(str(p) for p in values_files), tuple(set_values), namespace)
    return [doc for doc in yaml.load_all(text, Loader=SAFE_LOADER) if doc]


@functools.lru_cache(maxsize=64)
def _rendered_text(
    helm: str, values_files: tuple[str, ...], set_values: tuple[str, ...], namespace: str
) -> str:
    """`helm template` output, once per distinct input (the chart does not change during a run)."""
    return run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        kube_version(),
        *value_args([Path(p) for p in values_files], set_values),
    )


def of_kind(manifests: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The manifests of one kind."""
    return [m for m in manifests if m.get("kind") == kind]


def one(manifests: Iterable[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single manifest of a kind (AssertionError when there is not exactly one)."""
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container_env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The operator container's env entries by name."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {entry["name"]: entry for entry in container.get("env", [])}


def dashboard() -> dict[str, Any]:
    """The committed Grafana dashboard."""
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, refId, PromQL) of every panel target."""
    out: list[tuple[str, str, str]] = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["refId"], target["expr"]))
    return out


GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def substitute(expr: str, variables: dict[str, str]) -> str:
    """The expression as Grafana would send it: `$name` variables and interval macros replaced.

    Longest names first, so `$namespace` is never taken for a prefix of another variable.
    """
    replacements = {**GRAFANA_INTERVALS, **{f"${name}": value for name, value in variables.items()}}
    for name in sorted(replacements, key=len, reverse=True):
        expr = expr.replace(name, replacements[name])
    return expr


def rbac_rules(manifests: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], set[str]]:
    """{(kind/name@namespace, apiGroup, resource[:resourceName]): verbs} over every Role and ClusterRole."""
    grants: dict[tuple[str, str, str], set[str]] = {}
    for manifest in manifests:
        if manifest["kind"] not in {"Role", "ClusterRole"}:
            continue
        meta = manifest["metadata"]
        owner = f"{manifest['kind']}/{meta['name']}@{meta.get('namespace', '')}"
        for rule in manifest.get("rules", []):
            names = rule.get("resourceNames") or [""]
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for name in names:
                        key = (owner, group, f"{resource}:{name}" if name else resource)
                        grants.setdefault(key, set()).update(rule["verbs"])
    return grants


def dump_yaml(documents: Iterable[dict[str, Any]]) -> str:
    """YAML stream of the documents (for failure messages and files)."""
    return yaml.safe_dump_all(list(documents), sort_keys=False)
