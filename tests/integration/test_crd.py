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
from tests.unit.api.manifests import MALFORMED, Malformed, broken_manifests, valid_manifests

from modelscaler.api import AutoscalingSpec, ModelDeployment
from modelscaler.api.crd import CRD_PATHS
from modelscaler.api.resource import GROUP, PLURAL

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
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    return CRD_NAME


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


def test_get_prints_the_columns_from_spec_and_status(cluster: Cluster, namespace: str, crd: str) -> None:
    name = "columns-check"
    manifest = yaml.safe_load(EXAMPLES[0].read_text())
    manifest["metadata"] = {"name": name}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    status = {
        "readyReplicas": 2,
        "desiredReplicas": 3,
        "ready": "2/3",
        "startingReplicas": 1,
        "mode": "Burst",
        "diagnosis": "Thrashing",
        "concurrency": {"stable": 4.2, "burst": 7.5, "perReplica": 2.1, "target": 2.8},
        "scaleDown": {"window": [[1764482400.5, 5], [1764482460.0, 3]], "lastScaleTime": 1764482400.0},
        "conditions": [
            {
                "type": "Thrashing",
                "status": "True",
                "reason": "Thrashing",
                "message": "4 reversals in 10 min",
                "lastTransitionTime": "2026-11-30T06:00:00Z",
            }
        ],
    }
    cluster.kubectl(
        "patch", "md", name, "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip
    table = cluster.kubectl("get", "md", name, "-n", namespace).stdout.split("\n")
    assert table[0].split() == ["NAME", "READY", "CONCURRENCY", "TARGET", "MODE", "DIAGNOSIS", "AGE"]
    assert table[1].split()[:6] == [name, "2/3", "4.2", "4", "Burst", "Thrashing"]
    wide = cluster.kubectl("get", "md", name, "-n", namespace, "-o", "wide").stdout.split("\n")[0].split()
    assert {"MIN", "MAX", "STARTING", "PER-REPLICA", "ENGINE"} <= set(wide)
    stored = json.loads(cluster.kubectl("get", "md", name, "-n", namespace, "-o", "json").stdout)
    assert ModelDeployment.model_validate(stored).status is not None
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
