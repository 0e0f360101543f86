"""The owned Deployment and Service built from a ModelDeployment body."""

from __future__ import annotations

import pytest
from tests.unit.actuator.actuator_samples import MD_UID, make_md

from modelscaler.actuator.manifests import (
    DEPLOYMENT_LABEL,
    ENVIRONMENT_LABEL,
    ManifestError,
    build_deployment,
    build_service,
    is_controlled_by,
    serving_port,
)

EXPECTED_LABELS = {
    "app.kubernetes.io/name": "llama",
    "app.kubernetes.io/managed-by": "modelscaler",
    "serving.modelscaler.io/deployment": "llama",
    "serving.modelscaler.io/environment": "production",
}
EXPECTED_OWNER = {
    "apiVersion": "serving.modelscaler.io/v1alpha1",
    "kind": "ModelDeployment",
    "name": "llama",
    "uid": MD_UID,
    "controller": True,
    "blockOwnerDeletion": True,
}


def test_deployment_is_named_labelled_and_owned_like_the_model_deployment() -> None:
    deployment = build_deployment(make_md(), replicas=2)

    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["kind"] == "Deployment"
    assert deployment["metadata"]["name"] == "llama"
    assert deployment["metadata"]["namespace"] == "ml"
    assert deployment["metadata"]["labels"] == EXPECTED_LABELS
    assert deployment["metadata"]["ownerReferences"] == [EXPECTED_OWNER]
    assert deployment["spec"]["selector"] == {"matchLabels": {DEPLOYMENT_LABEL: "llama"}}


def test_pod_template_gets_the_metrics_label_and_keeps_the_users_labels_and_annotations() -> None:
    template = build_deployment(make_md(), replicas=1)["spec"]["template"]

    # Ours win over a spoofed value; the user's own labels stay.
    assert template["metadata"]["labels"] == {"app": "llama", **EXPECTED_LABELS}
    assert template["metadata"]["annotations"] == {"modelscaler.io/start-delay": "30s"}
    server = template["spec"]["containers"][1]
    assert server["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert "env" not in server, "null fields are left out of the apply configuration"


def test_replicas_are_set_at_creation_and_absent_on_update() -> None:
    md = make_md()

    assert build_deployment(md, replicas=3)["spec"]["replicas"] == 3
    assert build_deployment(md, replicas=0)["spec"]["replicas"] == 0
    assert "replicas" not in build_deployment(md, replicas=None)["spec"]


def test_rolling_update_never_removes_a_ready_replica_first() -> None:
    strategy = build_deployment(make_md(), replicas=None)["spec"]["strategy"]

    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}


def test_builders_do_not_modify_the_model_deployment() -> None:
    md = make_md()
    before = repr(md)

    deployment = build_deployment(md, replicas=1)
    deployment["spec"]["template"]["metadata"]["annotations"]["x"] = "y"

    assert repr(md) == before


def test_environment_label_only_when_the_environment_is_set() -> None:
    md = make_md()
    del md["spec"]["environment"]

    deployment = build_deployment(md, replicas=None)

    assert ENVIRONMENT_LABEL not in deployment["metadata"]["labels"]
    assert ENVIRONMENT_LABEL not in deployment["spec"]["template"]["metadata"]["labels"]


def test_service_targets_the_named_port_on_its_number() -> None:
    service = build_service(make_md())

    assert service["apiVersion"] == "v1"
    assert service["kind"] == "Service"
    assert service["metadata"]["labels"] == EXPECTED_LABELS
    assert service["metadata"]["ownerReferences"] == [EXPECTED_OWNER]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == {DEPLOYMENT_LABEL: "llama"}
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    ]


@pytest.mark.parametrize(
    ("port", "expected"),
    [("admin", (9000, "admin")), (8080, (8080, 8080)), ("8081", (8081, 8081))],
)
def test_serving_port_by_name_in_any_container_or_by_number(
    port: int | str, expected: tuple[int, int | str]
) -> None:
    assert serving_port(make_md(serving={"port": port})) == expected


def test_serving_port_defaults_to_the_port_named_http() -> None:
    assert serving_port(make_md(serving={})) == (8000, "http")


@pytest.mark.parametrize("port", ["grpc", 0, 70000])
def test_serving_port_that_resolves_to_nothing_is_refused(port: int | str) -> None:
    with pytest.raises(ManifestError, match=r"spec\.serving\.port"):
        build_service(make_md(serving={"port": port}))


def test_name_too_long_for_a_label_value_is_refused() -> None:
    md = make_md()
    md["metadata"]["name"] = "m" * 64

    with pytest.raises(ManifestError, match="not a valid label value"):
        build_deployment(md, replicas=1)


def test_missing_uid_or_containers_is_refused() -> None:
    without_uid = make_md()
    del without_uid["metadata"]["uid"]
    without_containers = make_md(template={"spec": {"containers": []}})

    with pytest.raises(ManifestError, match="uid"):
        build_service(without_uid)
    with pytest.raises(ManifestError, match="containers"):
        build_deployment(without_containers, replicas=1)


def test_controlled_by_compares_the_controller_uid() -> None:
    md = make_md()
    ours = build_deployment(md, replicas=1)
    foreign = {"metadata": {"ownerReferences": [{**ours["metadata"]["ownerReferences"][0], "uid": "other"}]}}
    not_controller = {
        "metadata": {"ownerReferences": [{**ours["metadata"]["ownerReferences"][0], "controller": False}]}
    }

    assert is_controlled_by(ours, md)
    assert not is_controlled_by(foreign, md)
    assert not is_controlled_by(not_controller, md)
    assert not is_controlled_by({"metadata": {"name": "llama"}}, md)
