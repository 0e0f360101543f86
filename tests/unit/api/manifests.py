"""ModelDeployment manifests for tests: a valid base, a table of malformed variants, hypothesis strategies.

Shared by the unit tests (pydantic refuses each malformed manifest) and the
integration tests (the API server refuses the same ones), so the table itself
shows that the two agree.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from modelscaler.api.durations import format_duration

Manifest = dict[str, Any]
DELETE = object()


def base_manifest(name: str = "model") -> Manifest:
    """A small valid ModelDeployment, every section present."""
    return {
        "apiVersion": "serving.modelscaler.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {
            "environment": "test",
            "template": {
                "metadata": {
                    "annotations": {"modelscaler.io/start-delay": "1s"},
                    "labels": {"tier": "model"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "example.com/model:1",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
            "serving": {"port": "http", "engine": "generic", "metricsPath": "/metrics"},
            "autoscaling": {
                "minReplicas": 1,
                "maxReplicas": 8,
                "concurrencyTarget": 4,
                "targetUtilization": 0.7,
                "autoscalingWindow": "60s",
                "scaleDownDelay": "15m",
                "panicWindow": "6s",
            },
            "diagnosis": {"latencyObjective": {"percentile": 95, "seconds": 1.5}, "restartThreshold": 3},
            "metrics": {},
        },
    }


def with_changes(manifest: Manifest, changes: dict[str, Any]) -> Manifest:
    """A copy with dotted paths set (or removed, for DELETE); list indexes are numbers."""
    result = copy.deepcopy(manifest)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        elif isinstance(node, list) and key == len(node):
            node.append(value)
        else:
            node[key] = value
    return result


@dataclass(frozen=True)
class Malformed:
    """One broken manifest and a fragment that both refusals must contain (the field's name)."""

    case_id: str
    changes: dict[str, Any]
    field: str

    def manifest(self, name: str = "model") -> Manifest:
        """The base manifest with this case's changes."""
        return with_changes(base_manifest(name), self.changes)


_A = "spec.autoscaling."
_CONTAINER = "spec.template.spec.containers.0."
_SERVER = {"name": "server", "image": "example.com/model:1"}

MALFORMED: tuple[Malformed, ...] = (
    Malformed("min-above-max", {_A + "minReplicas": 5, _A + "maxReplicas": 2}, "minReplicas"),
    Malformed("min-negative", {_A + "minReplicas": -1}, "minReplicas"),
    Malformed("min-as-string", {_A + "minReplicas": "3"}, "minReplicas"),
    Malformed("min-fractional", {_A + "minReplicas": 1.5}, "minReplicas"),
    Malformed("max-zero", {_A + "maxReplicas": 0}, "maxReplicas"),
    Malformed("max-huge", {_A + "maxReplicas": 10001}, "maxReplicas"),
    Malformed("default-max-below-min", {_A + "minReplicas": 3, _A + "maxReplicas": DELETE}, "minReplicas"),
    Malformed("initial-above-max", {_A + "initialReplicas": 9}, "initialReplicas"),
    Malformed("initial-below-min", {_A + "minReplicas": 2, _A + "initialReplicas": 1}, "initialReplicas"),
    Malformed("initial-negative", {_A + "initialReplicas": -1}, "initialReplicas"),
    Malformed("target-zero", {_A + "concurrencyTarget": 0}, "concurrencyTarget"),
    Malformed("target-negative", {_A + "concurrencyTarget": -2}, "concurrencyTarget"),
    Malformed("target-word", {_A + "concurrencyTarget": "four"}, "concurrencyTarget"),
    Malformed("utilization-zero", {_A + "targetUtilization": 0}, "targetUtilization"),
    Malformed("utilization-above-one", {_A + "targetUtilization": 1.5}, "targetUtilization"),
    Malformed("window-words", {_A + "autoscalingWindow": "sixty seconds"}, "autoscalingWindow"),
    Malformed("window-bare-number", {_A + "autoscalingWindow": "60"}, "autoscalingWindow"),
    Malformed("window-integer", {_A + "autoscalingWindow": 60}, "autoscalingWindow"),
    Malformed("window-too-short", {_A + "autoscalingWindow": "5s"}, "autoscalingWindow"),
    Malformed("window-too-long", {_A + "autoscalingWindow": "1h0m1s"}, "autoscalingWindow"),
    Malformed("delay-negative", {_A + "scaleDownDelay": "-1s"}, "scaleDownDelay"),
    Malformed("delay-in-days", {_A + "scaleDownDelay": "1d"}, "scaleDownDelay"),
    Malformed("delay-too-long", {_A + "scaleDownDelay": "61m"}, "scaleDownDelay"),
    Malformed("panic-longer-than-window", {_A + "panicWindow": "90s"}, "panicWindow"),
    Malformed("panic-too-short", {_A + "panicWindow": "500ms"}, "panicWindow"),
    Malformed("scale-down-rate-zero", {_A + "maxScaleDownRate": 0}, "maxScaleDownRate"),
    Malformed("scale-down-rate-above-one", {_A + "maxScaleDownRate": 1.5}, "maxScaleDownRate"),
    Malformed("scale-up-rate-below-one", {_A + "maxScaleUpRate": 0.5}, "maxScaleUpRate"),
    Malformed("panic-threshold-one", {_A + "panicThreshold": 1.0}, "panicThreshold"),
    Malformed("panic-threshold-huge", {_A + "panicThreshold": 11}, "panicThreshold"),
    Malformed("paused-as-word", {_A + "paused": "yes"}, "paused"),
    Malformed("autoscaling-typo", {_A + "minReplica": 1}, "minReplica"),
    Malformed("engine-unknown", {"spec.serving.engine": "triton"}, "engine"),
    Malformed("port-name-undeclared", {"spec.serving.port": "grpc"}, "serving.port"),
    Malformed("port-zero", {"spec.serving.port": 0}, "serving.port"),
    Malformed("port-above-65535", {"spec.serving.port": 70000}, "serving.port"),
    Malformed("port-quoted-number", {"spec.serving.port": "8080"}, "serving.port"),
    Malformed("port-boolean", {"spec.serving.port": True}, "serving.port"),
    Malformed("port-name-too-long", {"spec.serving.port": "a-very-long-port-name"}, "serving.port"),
    Malformed("metrics-path-relative", {"spec.serving.metricsPath": "metrics"}, "metricsPath"),
    Malformed("template-missing", {"spec.template": DELETE}, "template"),
    Malformed("template-not-object", {"spec.template": "a pod"}, "template"),
    Malformed("containers-empty", {"spec.template.spec.containers": []}, "containers"),
    Malformed("containers-missing", {"spec.template.spec.containers": DELETE}, "containers"),
    Malformed(
        "containers-too-many",
        {"spec.template.spec.containers": [{**_SERVER, "name": f"c{i}"} for i in range(17)]},
        "containers",
    ),
    Malformed("containers-same-name", {"spec.template.spec.containers.1": dict(_SERVER)}, "containers"),
    Malformed("container-without-image", {_CONTAINER + "image": DELETE}, "image"),
    Malformed("container-name-uppercase", {_CONTAINER + "name": "Server"}, "name"),
    Malformed("container-port-zero", {_CONTAINER + "ports.0.containerPort": 0}, "containerPort"),
    Malformed("restart-policy-never", {"spec.template.spec.restartPolicy": "Never"}, "restartPolicy"),
    Malformed("pod-label-value-invalid", {"spec.template.metadata.labels.tier": "a b"}, "labels"),
    Malformed("environment-with-space", {"spec.environment": "has space"}, "environment"),
    Malformed("environment-too-long", {"spec.environment": "e" * 64}, "environment"),
    Malformed("spec-unknown-field", {"spec.replicas": 3}, "replicas"),
    Malformed("percentile-unsupported", {"spec.diagnosis.latencyObjective.percentile": 97}, "percentile"),
    Malformed("objective-zero-seconds", {"spec.diagnosis.latencyObjective.seconds": 0}, "seconds"),
    Malformed("restart-threshold-zero", {"spec.diagnosis.restartThreshold": 0}, "restartThreshold"),
    Malformed("lookback-too-short", {"spec.diagnosis.lookback": "1m"}, "lookback"),
    Malformed("low-utilization-one", {"spec.diagnosis.lowUtilization": 1.0}, "lowUtilization"),
    Malformed("kv-cache-above-one", {"spec.diagnosis.kvCacheSaturation": 1.5}, "kvCacheSaturation"),
    Malformed("promql-too-long", {"spec.metrics.concurrency": "sum(x)" + " " * 4000}, "concurrency"),
    Malformed("promql-empty", {"spec.metrics.latency": ""}, "latency"),
    Malformed("name-with-dot", {"metadata.name": "model.one"}, "metadata.name"),
)


# ---- hypothesis: specs built from the rules, and specs that break exactly one ----


def _duration_text(draw: st.DrawFn, seconds: int) -> str:
    """One of several spellings of a whole number of seconds."""
    style = draw(st.sampled_from(["compact", "seconds", "millis"]))
    if style == "compact":
        return format_duration(seconds)
    if style == "seconds":
        return f"{seconds}s"
    return f"{seconds * 1000}ms"


@st.composite
def valid_autoscaling(draw: st.DrawFn) -> dict[str, Any]:
    """An autoscaling section that obeys every rule."""
    low = draw(st.integers(0, 50))
    high = draw(st.integers(max(low, 1), 200))
    window = draw(st.integers(10, 3600))
    section: dict[str, Any] = {
        "minReplicas": low,
        "maxReplicas": high,
        "concurrencyTarget": draw(st.floats(0.01, 1000, allow_nan=False)),
        "targetUtilization": draw(st.floats(0.01, 1.0, allow_nan=False)),
        "autoscalingWindow": _duration_text(draw, window),
        "scaleDownDelay": _duration_text(draw, draw(st.integers(0, 3600))),
        "panicWindow": _duration_text(draw, draw(st.integers(1, window))),
        "maxScaleDownRate": draw(st.floats(0.01, 1.0, allow_nan=False)),
        "maxScaleUpRate": draw(st.floats(1.0, 10000, allow_nan=False)),
        "panicThreshold": draw(st.floats(1.1, 10.0, allow_nan=False)),
        "paused": draw(st.booleans()),
    }
    if draw(st.booleans()):
        section["initialReplicas"] = draw(st.integers(low, high))
    return section


@st.composite
def valid_manifests(draw: st.DrawFn) -> Manifest:
    """A manifest whose spec obeys every rule (autoscaling and serving port drawn)."""
    manifest = base_manifest()
    manifest["spec"]["autoscaling"] = draw(valid_autoscaling())
    manifest["spec"]["serving"]["port"] = draw(st.sampled_from(["http", 8080, 1, 65535]))
    return manifest


def _break_min_max(section: dict[str, Any], draw: st.DrawFn) -> None:
    section["maxReplicas"] = draw(st.integers(1, 50))
    section["minReplicas"] = draw(st.integers(section["maxReplicas"] + 1, 100))
    section.pop("initialReplicas", None)


def _break_utilization(section: dict[str, Any], draw: st.DrawFn) -> None:
    section["targetUtilization"] = draw(st.one_of(st.floats(1.001, 100), st.floats(-10, 0)))


def _break_window(section: dict[str, Any], draw: st.DrawFn) -> None:
    seconds = draw(st.one_of(st.integers(3601, 100000), st.integers(1, 9)))
    section["autoscalingWindow"] = _duration_text(draw, seconds)
    if seconds < 10:  # keep panicWindow <= autoscalingWindow: only the window's range is broken
        section["panicWindow"] = "1s"


def _break_panic(section: dict[str, Any], draw: st.DrawFn) -> None:
    section["autoscalingWindow"] = "60s"
    section["panicWindow"] = _duration_text(draw, draw(st.integers(61, 3600)))


def _break_initial(section: dict[str, Any], draw: st.DrawFn) -> None:
    section["initialReplicas"] = section["maxReplicas"] + draw(st.integers(1, 100))


def _break_delay(section: dict[str, Any], draw: st.DrawFn) -> None:
    section["scaleDownDelay"] = draw(
        st.one_of(
            st.sampled_from(["-1s", "1d", "15", "15 m", "m"]), st.integers(3601, 99999).map(format_duration)
        )
    )


BREAKERS: dict[str, Callable[[dict[str, Any], st.DrawFn], None]] = {
    "min-above-max": _break_min_max,
    "utilization-out-of-range": _break_utilization,
    "window-out-of-range": _break_window,
    "panic-longer-than-window": _break_panic,
    "initial-above-max": _break_initial,
    "delay-invalid": _break_delay,
}


@st.composite
def broken_manifests(draw: st.DrawFn) -> tuple[str, Manifest]:
    """A valid manifest with exactly one autoscaling rule broken, and the rule's name."""
    manifest = draw(valid_manifests())
    rule = draw(st.sampled_from(sorted(BREAKERS)))
    BREAKERS[rule](manifest["spec"]["autoscaling"], draw)
    return rule, manifest
