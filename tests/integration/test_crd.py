"""The ModelDeployment CRD against a real kube-apiserver: what `kubectl apply` accepts and refuses.

Every example is accepted; every malformed manifest of the shared table is
refused with a message naming the field (the unit tests show pydantic refuses
the same table); specs drawn from the rules are accepted by both the server and
pydantic, and specs breaking one rule are refused by both. `kubectl explain`
and `kubectl get md` show what the schema promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError
from tests.support.cluster import wait_for
from tests.unit.api.manifests import MALFORMED, Malformed, broken_manifests, valid_manifests

from modelscaler.api import (
    AutoscalingSpec,
    ConcurrencyStatus,
    Condition,
    HistoryEntry,
    LastDecision,
    LatencyStatus,
    ModelDeployment,
    ModelDeploymentStatus,
    Recommendation,
    ScaleDownMemory,
    diagnosis_summary,
    set_condition,
)
from modelscaler.api.conditions import DIAGNOSIS_CONDITION_TYPES, STATE_CONDITION_TYPES
from modelscaler.api.crd import CRD_PATHS
from modelscaler.api.resource import GROUP, PLURAL
from modelscaler.api.status import MAX_HISTORY, MAX_RECOMMENDATIONS
from modelscaler.engine.types import Memory, WindowPoint

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
CRD_NAME = f"{PLURAL}.{GROUP}"
SERVER_CHECKS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Cluster(Protocol):
    """What these tests use of the `cluster` fixture."""

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture(scope="module")
def crd(cluster: Cluster) -> str:
    """Installs the committed CRD and waits until the API server serves it."""
    cluster.kubectl("apply", "-f", str(ROOT / CRD_PATHS[0]))
    # Not `kubectl wait`: it fails outright when asked before the CRD has any status conditions.
    wait_for(lambda: _established(cluster), timeout=60, message=f"CRD {CRD_NAME} established")
    return CRD_NAME


def _established(cluster: Cluster) -> bool:
    """Whether the API server serves the CRD (its Established condition is True)."""
    body = json.loads(cluster.kubectl("get", "crd", CRD_NAME, "-o", "json").stdout)
    conditions = body.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


@pytest.fixture(scope="module")
def dry_run_namespace(cluster: Cluster, crd: str) -> Iterator[str]:
    """One namespace for the dry runs of this module (nothing is stored in it, so nothing can leak
    between tests); a namespace per test would cost more than the checks themselves."""
    name = f"crd-dry-run-{os.getpid()}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def dry_run(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`kubectl apply --dry-run=server` of one manifest; the object is validated, never stored."""
    return cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest), check=False
    )


def pydantic_accepts(manifest: dict[str, Any]) -> bool:
    """Whether the operator's model takes the manifest."""
    try:
        ModelDeployment.model_validate(manifest)
    except ValidationError:
        return False
    return True


def full_status() -> ModelDeploymentStatus:
    """A status built with the models, every list at its bound and every part filled."""
    time_text = "2026-11-30T06:00:00Z"
    memory = Memory(
        window=tuple(WindowPoint(1764482400.5 + i, 40 - i) for i in range(30)),
        burst_mode_since=1764482400.0,
        last_scale_time=1764482400.25,
        observing_since=1764480000,
    )
    conditions: list[Condition] = []
    for condition_type in (*STATE_CONDITION_TYPES, *DIAGNOSIS_CONDITION_TYPES):
        problem = condition_type == "Thrashing"
        fine_when_true = condition_type in STATE_CONDITION_TYPES
        conditions = set_condition(
            conditions,
            Condition(
                type=condition_type,
                status="True" if problem or fine_when_true else "False",
                reason=condition_type if problem else "AsExpected",
                message="4 reversals in 10 min" if problem else "",
                observed_generation=1,
            ),
            1764482400.0,
        )
    change = {"time": time_text, "from": 2, "to": 3, "reason": "ScaleUp", "message": "x" * 4096}
    return ModelDeploymentStatus(
        observed_generation=1,
        replicas=3,
        ready_replicas=2,
        starting_replicas=1,
        desired_replicas=3,
        selector="serving.modelscaler.io/deployment=columns-check",
        concurrency=ConcurrencyStatus(
            stable=4.2, burst=7.5, per_replica=2.1, target=2.8, observed_at=time_text
        ),
        latency=LatencyStatus(p50=0.1, p90=0.3, p95=0.45, p99=1.2),
        mode="Burst",
        scale_down=ScaleDownMemory.model_validate(memory.to_dict()),
        last_decision=LastDecision.model_validate({**change, "inputs": {f"k{i}": i / 3 for i in range(32)}}),
        history=[HistoryEntry.model_validate(change)] * MAX_HISTORY,
        conditions=conditions,
        recommendations=[
            Recommendation(
                setting="autoscaling.scaleDownDelay",
                current="15m",
                suggested="30m",
                reason="r" * 1024,
                evidence="e" * 4096,
            )
        ]
        * MAX_RECOMMENDATIONS,
        diagnosis=diagnosis_summary(conditions),
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_accepted(cluster: Cluster, dry_run_namespace: str, example: Path) -> None:
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", dry_run_namespace, "-f", str(example), check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", MALFORMED, ids=lambda c: c.case_id)
def test_malformed_manifests_are_refused_naming_the_field(
    cluster: Cluster, dry_run_namespace: str, case: Malformed
) -> None:
    result = dry_run(cluster, dry_run_namespace, case.manifest(name=case.case_id[:63]))
    assert result.returncode != 0, f"accepted: {case.case_id}"
    assert case.field in result.stderr, result.stderr


def _explain(cluster: Cluster, path: str) -> str:
    """`kubectl explain`, retried while the API server is still publishing the new schema."""
    deadline = time.monotonic() + 60
    while True:
        result = cluster.kubectl("explain", path, check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, result.stderr
            return " ".join(result.stdout.split())
        time.sleep(1)


def test_explain_prints_the_descriptions(cluster: Cluster, crd: str) -> None:
    text = _explain(cluster, "modeldeployment.spec.autoscaling")
    for name, field in AutoscalingSpec.model_fields.items():
        assert field.alias is not None
        assert field.description is not None
        assert field.alias in text, name
        assert " ".join(field.description.split())[:60] in text, name


def test_get_prints_the_columns_from_spec_and_status(
    cluster: Cluster, namespace: str, crd: str, tmp_path: Path
) -> None:
    name = "columns-check"
    manifest = yaml.safe_load(EXAMPLES[0].read_text())
    manifest["metadata"] = {"name": name}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    patch = tmp_path / "status.json"  # too large for a command-line argument
    patch.write_text(json.dumps({"status": full_status().to_wire()}))
    cluster.kubectl(
        "patch", "md", name, "-n", namespace, "--subresource=status", "--type=merge",
        "--patch-file", str(patch),
    )  # fmt: skip
    table = cluster.kubectl("get", "md", name, "-n", namespace).stdout.split("\n")
    assert table[0].split() == ["NAME", "READY", "CONCURRENCY", "TARGET", "MODE", "DIAGNOSIS", "AGE"]
    assert table[1].split()[:6] == [name, "2/3", "4.2", "4", "Burst", "Thrashing"]
    wide = cluster.kubectl("get", "md", name, "-n", namespace, "-o", "wide").stdout.split("\n")[0].split()
    assert {"MIN", "MAX", "STARTING", "PER-REPLICA", "ENGINE"} <= set(wide)
    stored = json.loads(cluster.kubectl("get", "md", name, "-n", namespace, "-o", "json").stdout)
    assert ModelDeployment.model_validate(stored).status == full_status(), "the status did not round-trip"
    assert Memory.from_dict(stored["status"]["scaleDown"]) == Memory.from_dict(
        full_status().to_wire()["scaleDown"]
    )
    cluster.kubectl("delete", "md", name, "-n", namespace, "--wait=false")


@SERVER_CHECKS
@given(manifest=valid_manifests())
def test_specs_drawn_from_the_rules_are_accepted_by_both(
    cluster: Cluster, dry_run_namespace: str, manifest: dict[str, Any]
) -> None:
    result = dry_run(cluster, dry_run_namespace, manifest)
    assert result.returncode == 0, result.stderr
    assert pydantic_accepts(manifest)


@SERVER_CHECKS
@given(broken=broken_manifests())
def test_specs_breaking_one_rule_are_refused_by_both(
    cluster: Cluster, dry_run_namespace: str, broken: tuple[str, dict[str, Any]]
) -> None:
    rule, manifest = broken
    result = dry_run(cluster, dry_run_namespace, manifest)
    assert result.returncode != 0, f"the server accepted a spec breaking {rule}"
    assert not pydantic_accepts(manifest), f"pydantic accepted a spec breaking {rule}"
