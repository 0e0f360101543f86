"""Pod Security "restricted" defaults of the operator pod (the integration test installs the chart
into a namespace that enforces the restricted profile, so the API server checks them too)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.chart.chart_helpers import CI_VALUES, one, render


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_the_pod_meets_the_restricted_profile(helm: str, values: Path) -> None:
    deployment = one(render(helm, [values]), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container["securityContext"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["readOnlyRootFilesystem"] is True
    assert "privileged" not in security
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert all("hostPath" not in volume for volume in pod["volumes"])


def test_the_service_account_token_is_mounted_only_into_the_operator_pod(helm: str) -> None:
    manifests = render(helm)

    assert one(manifests, "ServiceAccount")["automountServiceAccountToken"] is False
    assert one(manifests, "Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
