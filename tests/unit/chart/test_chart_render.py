"""helm lint and rendering across the ci/ scenarios; the schema refuses typos; wiring of values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.chart.chart_helpers import (
    CHART,
    CI_VALUES,
    CRD,
    DASHBOARD,
    RELEASE_NAMESPACE,
    HelmError,
    container_env,
    kube_version,
    of_kind,
    one,
    render,
    run_helm,
)

BASE_KINDS = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "ConfigMap",
}
EXPECTED_EXTRA_KINDS = {
    "default": set(),
    "namespaced": {"PodMonitor"},
    "monitoring": {"ServiceMonitor", "PodMonitor", "PrometheusRule"},
    "networkpolicy": {"NetworkPolicy"},
    "prometheus-auth": set(),
    "bearer-token": set(),
}


def scenario(path: Path) -> str:
    return path.name.removesuffix("-values.yaml")


def test_every_ci_scenario_is_listed_here() -> None:
    assert {scenario(p) for p in CI_VALUES} == set(EXPECTED_EXTRA_KINDS)


@pytest.mark.parametrize("values", CI_VALUES, ids=scenario)
def test_helm_lint_passes_strictly(helm: str, values: Path) -> None:
    output = run_helm(
        helm, "lint", "--strict", str(CHART), "-f", str(values), "--kube-version", kube_version()
    )

    assert "0 chart(s) failed" in output


@pytest.mark.parametrize("values", CI_VALUES, ids=scenario)
def test_each_scenario_renders_the_expected_objects(helm: str, values: Path) -> None:
    manifests = render(helm, [values])

    kinds = {m["kind"] for m in manifests}
    assert kinds == BASE_KINDS | EXPECTED_EXTRA_KINDS[scenario(values)]
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "modelscaler", manifest["metadata"]["name"]
        if manifest["kind"] not in {"ClusterRole", "ClusterRoleBinding"}:
            assert manifest["metadata"].get("namespace"), f"{manifest['kind']} without a namespace"


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ('operator={"tikSeconds": 1}', "tikSeconds"),
        ('prometheus={"urll": "http://p:9090"}', "urll"),
        ('replicaCount="2"', "replicaCount"),
        ('operator={"logFormat": "xml"}', "logFormat"),
        ('podMonitor={"enabled": true, "intervall": "5s"}', "intervall"),
        ('securityContext={"readOnlyRootFileSystem": true}', "readOnlyRootFileSystem"),
        ('resources={"limit": {"memory": "1Gi"}}', "limit"),
        ('prometheus={"url": "prometheus:9090"}', "url"),
        ('networkPolicy={"metricsFrom": [{"namespaceSelecter": {}}]}', "namespaceSelecter"),
        ('tolerations=[{"key": "gpu", "effects": "NoSchedule"}]', "effects"),
        ('serviceMonitor={"interval": "30 seconds"}', "interval"),
    ],
)
def test_a_typo_or_a_wrong_type_fails_the_schema(helm: str, assignment: str, complaint: str) -> None:
    with pytest.raises(HelmError) as refused:
        render(helm, set_values=[assignment])

    assert "values don't meet the specifications of the schema" in str(refused.value)
    assert complaint in str(refused.value)


@pytest.mark.parametrize(
    ("assignments", "complaint"),
    [
        (
            ['prometheus.basicAuth={"secretName": "a"}', 'prometheus.bearerToken={"secretName": "b"}'],
            "choose basicAuth or bearerToken",
        ),
        (['prometheus.bearerToken={"secretName": "b", "serviceAccountToken": true}'], "not both"),
        (['operator.leaderElection={"enabled": false}'], "needs replicaCount: 1"),
        (['operator.leaderElection={"renewSeconds": 20}'], "renewSeconds must be shorter"),
        (
            ['prometheus.tls={"insecureSkipVerify": true, "ca": {"name": "ca"}}'],
            "insecureSkipVerify and a ca",
        ),
    ],
)
def test_contradictory_values_fail_with_the_fix(helm: str, assignments: list[str], complaint: str) -> None:
    with pytest.raises(HelmError, match=complaint):
        render(helm, set_values=assignments)


def test_a_single_replica_without_leader_election_renders_no_lease_role_and_no_budget(helm: str) -> None:
    manifests = render(helm, set_values=["replicaCount=1", 'operator.leaderElection={"enabled": false}'])

    env = container_env(one(manifests, "Deployment"))
    assert env["MODELSCALER_LEADER_ELECTION"]["value"] == "false"
    assert not [r for r in of_kind(manifests, "Role") if r["metadata"]["name"].endswith("leader-election")]
    assert not of_kind(manifests, "PodDisruptionBudget")


def test_the_operator_environment_follows_the_values(helm: str) -> None:
    manifests = render(
        helm,
        set_values=[
            'operator={"watchNamespaces": ["a", "b"], "tickSeconds": 1.5, "logLevel": "debug"}',
            'prometheus={"url": "http://prom:9090", "scrapeIntervalSeconds": 30,'
            ' "headers": {"X-Scope-OrgID": "t,1"}}',
        ],
    )

    env = container_env(one(manifests, "Deployment"))
    plain = {name: entry.get("value") for name, entry in env.items()}
    assert plain["MODELSCALER_NAMESPACES"] == "a,b"
    assert plain["MODELSCALER_TICK_SECONDS"] == "1.5"
    assert plain["MODELSCALER_LOG_LEVEL"] == "debug"
    assert plain["MODELSCALER_PROMETHEUS_URL"] == "http://prom:9090"
    assert plain["MODELSCALER_PROMETHEUS_SCRAPE_INTERVAL_SECONDS"] == "30"
    assert plain["MODELSCALER_LEASE_NAMESPACE"] == RELEASE_NAMESPACE
    assert json.loads(plain["MODELSCALER_PROMETHEUS_HEADERS"] or "") == {"X-Scope-OrgID": "t,1"}
    assert env["MODELSCALER_IDENTITY"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert not [name for name in plain if "PASSWORD" in name or "TOKEN" in name]


def test_every_operator_variable_is_one_the_operator_reads(helm: str) -> None:
    from modelscaler.metrics.settings import ENV_PREFIX, PrometheusSettings
    from modelscaler.runtime import settings as runtime_settings

    manifests = render(helm, [CHART / "ci" / "prometheus-auth-values.yaml"])
    source = Path(runtime_settings.__file__).read_text(encoding="utf-8")
    known = {ENV_PREFIX + field.upper() for field in PrometheusSettings.model_fields}

    for name in container_env(one(manifests, "Deployment")):
        if name.startswith(ENV_PREFIX):
            assert name in known, name
        else:
            assert f'_env("{name.removeprefix("MODELSCALER_")}"' in source, name


def secret_files(manifests: list[dict[str, Any]]) -> tuple[dict[str, str], list[dict[str, Any]], str]:
    """(env values by name, projected sources, mount path) of the Prometheus credentials."""
    deployment = one(manifests, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    env = {name: e.get("value", "") for name, e in container_env(deployment).items()}
    (volume,) = [v for v in pod["volumes"] if v["name"] == "prometheus-credentials"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "prometheus-credentials"]
    assert mount["readOnly"] is True
    return env, volume["projected"]["sources"], mount["mountPath"]


def test_basic_auth_and_tls_come_from_secrets_as_files(helm: str) -> None:
    manifests = render(helm, [CHART / "ci" / "prometheus-auth-values.yaml"])

    env, sources, mounted = secret_files(manifests)
    username = container_env(one(manifests, "Deployment"))["MODELSCALER_PROMETHEUS_USERNAME"]
    assert username["valueFrom"]["secretKeyRef"] == {"name": "prometheus-basic-auth", "key": "username"}
    assert env["MODELSCALER_PROMETHEUS_PASSWORD_FILE"] == f"{mounted}/password"
    assert env["MODELSCALER_PROMETHEUS_CA_FILE"] == f"{mounted}/ca.crt"
    assert env["MODELSCALER_PROMETHEUS_CERT_FILE"] == f"{mounted}/tls.crt"
    assert env["MODELSCALER_PROMETHEUS_KEY_FILE"] == f"{mounted}/tls.key"
    assert sources == [
        {"secret": {"name": "prometheus-basic-auth", "items": [{"key": "password", "path": "password"}]}},
        {"configMap": {"name": "monitoring-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "secret": {
                "name": "modelscaler-prometheus-client",
                "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
            }
        },
    ]
    assert "MODELSCALER_PROMETHEUS_BEARER_TOKEN_FILE" not in env


def test_a_bearer_token_is_the_projected_service_account_token(helm: str) -> None:
    manifests = render(helm, [CHART / "ci" / "bearer-token-values.yaml"])

    env, sources, mounted = secret_files(manifests)
    headers = container_env(one(manifests, "Deployment"))["MODELSCALER_PROMETHEUS_HEADERS"]
    assert env["MODELSCALER_PROMETHEUS_BEARER_TOKEN_FILE"] == f"{mounted}/token"
    assert sources == [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "thanos"}}
    ]
    assert headers["valueFrom"]["secretKeyRef"] == {"name": "prometheus-headers", "key": "headers"}


def test_no_credentials_mount_without_credentials(helm: str) -> None:
    deployment = one(render(helm), "Deployment")

    pod = deployment["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]


def test_the_deployment_fits_one_writer_with_hot_standbys(helm: str) -> None:
    manifests = render(helm)
    deployment = one(manifests, "Deployment")
    spec = deployment["spec"]
    container = spec["template"]["spec"]["containers"][0]

    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert one(manifests, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert "args" not in container, "the image's ENTRYPOINT is `modelscaler run`"
    assert "command" not in container
    assert container["image"] == "ghcr.io/modelscaler/modelscaler:0.1.0"
    assert container["resources"]["requests"]["memory"] == "256Mi"
    assert container["resources"]["limits"]["memory"] == "512Mi"


def test_the_metrics_service_reaches_the_operator_port(helm: str) -> None:
    manifests = render(helm)
    service = one(manifests, "Service")
    deployment = one(manifests, "Deployment")

    (port,) = service["spec"]["ports"]
    (container_port,) = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert port["targetPort"] == container_port["name"] == "http-metrics"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_pod_monitor_applies_the_label_contract(helm: str) -> None:
    from modelscaler.metrics.contract import DEPLOYMENT_LABEL, META_POD_LABEL, POD_LABEL

    monitor = one(render(helm, [CHART / "ci" / "monitoring-values.yaml"]), "PodMonitor")
    spec = monitor["spec"]
    (endpoint,) = spec["podMetricsEndpoints"]
    targets = {tuple(r["sourceLabels"]): r["targetLabel"] for r in endpoint["relabelings"]}

    assert spec["selector"]["matchExpressions"] == [{"key": POD_LABEL, "operator": "Exists"}]
    assert targets[(META_POD_LABEL,)] == DEPLOYMENT_LABEL
    assert targets[("__meta_kubernetes_namespace",)] == "namespace"
    assert targets[("__meta_kubernetes_pod_name",)] == "pod"
    assert targets[("__meta_kubernetes_pod_label_serving_modelscaler_io_environment",)] == "environment"
    assert endpoint["interval"] == "15s", "defaults to prometheus.scrapeIntervalSeconds"
    assert spec["namespaceSelector"] == {"any": True}


@pytest.mark.parametrize(("seconds", "interval"), [("30", "30s"), ("1.5", "1500ms"), ("0.25", "250ms")])
def test_the_pod_monitor_interval_is_a_valid_prometheus_duration(
    helm: str, seconds: str, interval: str
) -> None:
    manifests = render(
        helm, set_values=['podMonitor={"enabled": true}', f"prometheus.scrapeIntervalSeconds={seconds}"]
    )

    (endpoint,) = one(manifests, "PodMonitor")["spec"]["podMetricsEndpoints"]
    assert endpoint["interval"] == interval


def test_a_namespaced_pod_monitor_scrapes_the_watched_namespaces(helm: str) -> None:
    monitor = one(render(helm, [CHART / "ci" / "namespaced-values.yaml"]), "PodMonitor")

    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["team-a", "team-b"]}


def test_the_service_monitor_keeps_the_series_namespace_label(helm: str) -> None:
    monitor = one(render(helm, [CHART / "ci" / "monitoring-values.yaml"]), "ServiceMonitor")

    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True
    assert endpoint["port"] == "http-metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_network_policy_opens_only_the_metrics_port_and_the_needed_egress(helm: str) -> None:
    policy = one(render(helm, [CHART / "ci" / "networkpolicy-values.yaml"]), "NetworkPolicy")
    spec = policy["spec"]

    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"port": "http-metrics", "protocol": "TCP"}]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    egress_ports = [sorted(p["port"] for p in rule["ports"]) for rule in spec["egress"]]
    assert egress_ports == [[53, 53], [443, 6443], [9090]]


def test_the_dashboard_config_map_carries_the_committed_json(helm: str) -> None:
    config_map = one(render(helm, [CHART / "ci" / "monitoring-values.yaml"]), "ConfigMap")

    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Models"}
    assert json.loads(config_map["data"]["modelscaler.json"]) == json.loads(DASHBOARD.read_text())


def test_helm_installs_the_committed_crd(helm: str) -> None:
    shown = run_helm(helm, "show", "crds", str(CHART))

    assert yaml.safe_load(shown) == yaml.safe_load(CRD.read_text())
