"""The chart against the real local cluster and Prometheus.

kwok runs no containers, so after `helm install` the operator pods are simulated and never run
the image. The operator therefore runs as a local process with the same entry point
(`modelscaler run`), the environment the chart's Deployment gives it, and the credentials of the
chart's ServiceAccount (a token from `kubectl create token`): whatever it does, it does with the
chart's RBAC alone, and its log must hold no RBAC denial.

The dashboard's every panel query, with Grafana's variables filled in, must be valid PromQL for the
real Prometheus; under the traffic simulator, the panels it can feed must return data.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hack.trafficsim.client import TrafficSimProcess
from tests.e2e.operator_process import free_port
from tests.support.cluster import Cluster, Prometheus, PrometheusQueryError, wait_for
from tests.unit.chart.chart_helpers import (
    CHART,
    CI_VALUES,
    REPO,
    container_env,
    dashboard,
    dump_yaml,
    one,
    panel_queries,
    render,
    run_helm,
    substitute,
)

from modelscaler.metrics.contract import META_POD_LABEL

EXAMPLES = REPO / "examples"
# RBAC denials as the API server words them, and kopf's fallback warnings when it lacks a grant.
# A 403 for a namespace being deleted ("... because it is being terminated") is not a denial.
DENIAL = re.compile(
    r"is forbidden: User|cannot (get|list|watch|create|update|patch|delete) resource|"
    r"Not enough permissions"
)


@dataclass
class Release:
    """One installed release of the chart."""

    name: str
    namespace: str
    notes: str
    manifests: list[dict[str, Any]]

    @property
    def service_account(self) -> str:
        name: str = one(self.manifests, "ServiceAccount")["metadata"]["name"]
        return name

    @property
    def deployment(self) -> dict[str, Any]:
        return one(self.manifests, "Deployment")


def install(cluster: Cluster, prometheus: Prometheus, *set_json: str) -> Release:
    """Creates a namespace that enforces Pod Security "restricted" and installs the chart there."""
    name = f"ms-{secrets.token_hex(3)}"
    namespace = f"modelscaler-{name}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    # The local Prometheus, and the compressed time of the other integration tests.
    local = {
        "prometheus": {"url": prometheus.url, "scrapeIntervalSeconds": prometheus.scrape_interval},
        "operator.tickSeconds": 1,
        "operator.leaderElection": {"leaseDurationSeconds": 4, "renewSeconds": 1},
    }
    args: list[str] = []
    for assignment in [*(f"{key}={json.dumps(value)}" for key, value in local.items()), *set_json]:
        args += ["--set-json", assignment]
    output = run_helm(
        cluster.helm,
        "install",
        name,
        str(CHART),
        "--namespace",
        namespace,
        "--kubeconfig",
        cluster.kubeconfig,
        "--wait",
        "--timeout",
        "180s",
        *args,
    )
    manifest = run_helm(
        cluster.helm, "get", "manifest", name, "-n", namespace, "--kubeconfig", cluster.kubeconfig
    )
    return Release(name, namespace, output, [m for m in yaml.safe_load_all(manifest) if m])


def uninstall(cluster: Cluster, release: Release) -> None:
    """Removes the release (cluster-scoped objects included) and its namespace."""
    subprocess.run(
        [
            cluster.helm,
            "uninstall",
            release.name,
            "-n",
            release.namespace,
            "--kubeconfig",
            cluster.kubeconfig,
        ],
        capture_output=True,
        check=False,
    )
    cluster.kubectl("delete", "namespace", release.namespace, "--wait=false", check=False)


def service_account_kubeconfig(cluster: Cluster, release: Release, path: Path) -> Path:
    """A kubeconfig whose only credential is a token of the chart's ServiceAccount."""
    token = cluster.kubectl(
        "create", "token", release.service_account, "-n", release.namespace, "--duration", "2h"
    ).stdout.strip()
    own = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = dict(own["clusters"][0]["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": server}],
        "users": [{"name": release.service_account, "user": {"token": token}}],
        "contexts": [{"name": "chart", "context": {"cluster": "local", "user": release.service_account}}],
        "current-context": "chart",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class ChartOperator:
    """`python -m modelscaler run` with the chart Deployment's environment, as the chart's ServiceAccount."""

    def __init__(self, release: Release, kubeconfig: Path, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.identity = f"{release.name}-local"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSCALER_") and k != "KUBECONFIG"}
        for name, entry in container_env(release.deployment).items():
            if "value" in entry:
                env[name] = entry["value"]
            elif entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                env[name] = self.identity  # the pod's name in a cluster
            else:
                raise AssertionError(f"no local stand-in for {name}: {entry}")
        # Only the listening address differs from the pod: it serves 0.0.0.0:8080 in its own network.
        env["MODELSCALER_HTTP_HOST"] = "127.0.0.1"
        env["MODELSCALER_HTTP_PORT"] = str(self.port)
        container = release.deployment["spec"]["template"]["spec"]["containers"][0]
        assert "args" not in container, "the chart must not add arguments to the image's entry point"
        assert "command" not in container
        # The image's ENTRYPOINT ["modelscaler", "run"]; the kubeconfig stands in for the mounted token.
        command = [sys.executable, "-m", "modelscaler", "run", "--kubeconfig", str(kubeconfig)]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._ready, timeout=60, message=f"the operator's /readyz (log: {log_path})")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"operator exited with {self.process.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                status: int = response.status
                return status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def denials(self) -> list[str]:
        """Log lines that report a request the RBAC refused."""
        return [line[:400] for line in self.log().splitlines() if DENIAL.search(line)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(params=["cluster-wide", "namespaced"])
def release(
    request: pytest.FixtureRequest, cluster: Cluster, prometheus: Prometheus, namespace: str
) -> Iterator[Release]:
    """The chart installed cluster-wide (a ClusterRole) or for this test's namespace only (Roles)."""
    extra = [] if request.param == "cluster-wide" else [f"operator.watchNamespaces={json.dumps([namespace])}"]
    installed = install(cluster, prometheus, *extra)
    yield installed
    uninstall(cluster, installed)


@pytest.fixture
def chart_operator(cluster: Cluster, release: Release, tmp_path: Path) -> Iterator[ChartOperator]:
    """The operator running as the chart's ServiceAccount; its log tail is printed at the end."""
    kubeconfig = service_account_kubeconfig(cluster, release, tmp_path / "chart-sa.kubeconfig")
    operator = ChartOperator(release, kubeconfig, tmp_path / "operator.log")
    yield operator
    operator.stop()
    print("--- operator log (tail) ---\n" + "\n".join(operator.log().splitlines()[-30:]))


def get(cluster: Cluster, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    result = cluster.kubectl("-n", namespace, "get", kind, name, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_install_runs_restricted_pods_and_prints_real_next_commands(
    cluster: Cluster, release: Release
) -> None:
    pods = json.loads(
        cluster.kubectl(
            "-n",
            release.namespace,
            "get",
            "pods",
            "-l",
            f"app.kubernetes.io/instance={release.name}",
            "-o",
            "json",
        ).stdout
    )["items"]
    crd = cluster.kubectl("get", "crd", "modeldeployments.serving.modelscaler.io", "-o", "name")

    assert len(pods) == 2, "admitted by the namespace's Pod Security 'restricted' enforcement"
    assert (
        crd.stdout.strip()
        == "customresourcedefinition.apiextensions.k8s.io/modeldeployments.serving.modelscaler.io"
    )
    assert f"kubectl -n {release.namespace} get lease modelscaler-operator" in release.notes
    assert "kubectl get md -A" in release.notes
    assert "kubectl describe md -n " in release.notes
    assert f"port-forward svc/{release.name}-modelscaler-metrics 8080:8080" in release.notes


def test_the_chart_service_account_is_enough_to_run_the_operator(
    cluster: Cluster, release: Release, namespace: str, chart_operator: ChartOperator
) -> None:
    cluster.kubectl("-n", namespace, "apply", "-f", str(EXAMPLES / "generic.yaml"))

    def status_written() -> dict[str, Any] | None:
        md = get(cluster, namespace, "modeldeployment", "sentiment")
        status = (md or {}).get("status", {})
        return md if status.get("conditions") and status.get("observedGeneration") else None

    md = wait_for(status_written, timeout=90, message="the operator to write the ModelDeployment's status")
    deployment = wait_for(lambda: get(cluster, namespace, "deployment", "sentiment"), timeout=30)
    service = wait_for(lambda: get(cluster, namespace, "service", "sentiment"), timeout=30)
    lease = get(cluster, release.namespace, "lease", "modelscaler-operator")
    user = f"system:serviceaccount:{release.namespace}:{release.service_account}"
    may_delete = cluster.kubectl(
        "-n", namespace, "auth", "can-i", "delete", "deployments", "--as", user, check=False
    )
    may_read_secrets = cluster.kubectl(
        "-n", namespace, "auth", "can-i", "get", "secrets", "--as", user, check=False
    )

    for owned in (deployment, service):
        (owner,) = owned["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"]) == ("ModelDeployment", md["metadata"]["uid"])
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == chart_operator.identity
    assert chart_operator.denials() == []
    assert may_delete.stdout.strip() == "no"
    assert may_read_secrets.stdout.strip() == "no"


MONITORING_GROUP = "monitoring.coreos.com/"


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_every_scenario_is_accepted_by_the_api_server(cluster: Cluster, namespace: str, values: Path) -> None:
    """Server-side dry run with strict field validation: every field name and type as Kubernetes reads it.

    The Prometheus Operator's kinds are left out: their CRDs are not installed in the local cluster.
    """
    here = [f"dashboard.namespace={json.dumps(namespace)}"]  # the scenarios' other namespaces do not exist
    if (yaml.safe_load(values.read_text()) or {}).get("operator", {}).get("watchNamespaces"):
        here.append(f"operator.watchNamespaces={json.dumps([namespace])}")
    manifests = render(cluster.helm, [values], here, namespace)
    core = [m for m in manifests if not m["apiVersion"].startswith(MONITORING_GROUP)]
    for manifest in core:
        if manifest["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
            manifest["metadata"]["name"] += f"-{namespace}"  # no clash with a real install

    result = cluster.kubectl(
        "apply", "--dry-run=server", "--validate=strict", "-f", "-", input=dump_yaml(core), check=False
    )

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == len(core)


# Panels the traffic simulator and the operator feed; the others need cAdvisor, DCGM or a True
# diagnosis, which a quiet simulated run does not have (their queries are still checked).
NOT_FED_LOCALLY = {"Diagnosis conditions", "CPU", "Memory", "GPU utilization", "GPU memory used"}


@pytest.mark.parametrize("release", ["namespaced"], indirect=True)
def test_every_dashboard_query_is_valid_and_fed_panels_have_data(
    cluster: Cluster,
    prometheus: Prometheus,
    namespace: str,
    release: Release,
    chart_operator: ChartOperator,
    traffic: TrafficSimProcess,
) -> None:
    operator_targets = f"chart-operator-{release.name}"
    environment_targets = f"chart-environments-{release.name}"
    prometheus.set_targets(
        operator_targets,
        [{"targets": [f"127.0.0.1:{chart_operator.port}"], "labels": {"job": "modelscaler-operator"}}],
    )
    try:
        for example in ("generic.yaml", "vllm.yaml"):
            cluster.kubectl("-n", namespace, "apply", "-f", str(EXAMPLES / example))
        traffic.set_profile(
            namespace,
            "sentiment",
            {"engine": "generic", "rate": 20, "service": {"kind": "constant", "seconds": 0.3}},
        )
        traffic.set_profile(
            namespace,
            "llama-chat",
            {"engine": "vllm", "rate": 5, "async": True, "service": {"kind": "exponential", "seconds": 0.5}},
        )
        crash_once(cluster, namespace, "sentiment")  # feeds the Restarts panel
        variables = {
            "namespace": namespace,
            "modeldeployment": "sentiment|llama-chat",
            "environment": ".*",
        }
        board = dashboard()
        queries = [(title, ref, substitute(expr, variables)) for title, ref, expr in panel_queries(board)]
        annotation = substitute(board["annotations"]["list"][1]["expr"], variables)

        refused = []
        for title, ref, expr in [*queries, ("Scale events annotation", "-", annotation)]:
            try:
                prometheus.query(expr)
            except PrometheusQueryError as error:
                refused.append(f"{title} {ref}: {error}")
        assert refused == []

        expected = [(title, ref, expr) for title, ref, expr in queries if title not in NOT_FED_LOCALLY]

        def missing() -> list[str]:
            return [f"{title} {ref}" for title, ref, expr in expected if not prometheus.query(expr)]

        wait_for(
            lambda: not missing(),
            timeout=180,
            interval=2,
            message="every fed panel to return data (still empty: see the last value)",
        )
        assert missing() == []
        assert_variables_list_the_deployments(prometheus, board, namespace)
        wait_for(
            lambda: prometheus.query(annotation),
            timeout=150,
            interval=2,
            message="a scale event of the generic deployment under 20 requests/s",
        )
        assert chart_operator.denials() == []
        assert_an_environment_scopes_the_board(prometheus, traffic, board, namespace, environment_targets)
    finally:
        prometheus.remove_targets(operator_targets)
        prometheus.remove_targets(environment_targets)


def crash_once(cluster: Cluster, namespace: str, deployment: str) -> None:
    """One OOMKilled restart of a pod of the deployment (kwok's Stages read these annotations)."""

    def first_pod() -> str:
        names = cluster.kubectl(
            "-n",
            namespace,
            "get",
            "pods",
            "-l",
            f"serving.modelscaler.io/deployment={deployment}",
            "-o",
            "name",
        ).stdout.split()
        return names[0] if names else ""

    pod = wait_for(first_pod, timeout=60, message=f"a pod of {deployment}")
    cluster.kubectl(
        "-n",
        namespace,
        "annotate",
        pod,
        "modelscaler.io/fail-reason=OOMKilled",
        "modelscaler.io/fail-times=1",
        "modelscaler.io/fail-after=2s",
    )


def label_values(prometheus: Prometheus, variable_query: str, fill: dict[str, str]) -> set[str]:
    """What Grafana lists for a `label_values(selector, label)` variable, from the real Prometheus."""
    match = re.fullmatch(r"label_values\((.*), (\w+)\)", variable_query)
    assert match, variable_query
    return {s["metric"].get(match.group(2), "") for s in prometheus.query(substitute(match.group(1), fill))}


def assert_variables_list_the_deployments(
    prometheus: Prometheus, board: dict[str, Any], namespace: str
) -> None:
    """Each variable finds the test's namespace and deployments."""
    variables = {v["name"]: v["query"] for v in board["templating"]["list"] if v["type"] == "query"}
    fill = {"namespace": namespace, "environment": ".*"}

    assert namespace in label_values(prometheus, variables["namespace"], fill)
    assert {"sentiment", "llama-chat"} <= label_values(prometheus, variables["modeldeployment"], fill)


ENVIRONMENTS = {"sentiment": "staging", "llama-chat": "production"}  # spec.environment of the examples


def assert_an_environment_scopes_the_board(
    prometheus: Prometheus, traffic: TrafficSimProcess, board: dict[str, Any], namespace: str, targets: str
) -> None:
    """Choosing an environment narrows the deployment list and the panels to that environment.

    The local Prometheus does not copy the environment pod label (the chart's PodMonitor does), so
    the simulator's targets are scraped once more with the `environment` label that relabelling
    would give them.
    """

    def environment_groups() -> list[dict[str, Any]]:
        return [
            {
                "targets": group["targets"],
                "labels": {**group["labels"], "environment": ENVIRONMENTS[deployment]},
            }
            for path in Path(prometheus.state.file_sd_dir).glob(f"{traffic.instance}_*.json")
            for group in json.loads(path.read_text())
            if (deployment := group["labels"][META_POD_LABEL]) in ENVIRONMENTS
        ]

    # A deployment's target file exists while one of its pods is Ready (the crashed one may be restarting).
    groups = wait_for(
        lambda: (
            (found := environment_groups())
            and {g["labels"]["environment"] for g in found} == {"staging", "production"}
            and found
        ),
        timeout=120,
        interval=1,
        message="a Ready pod (a scrape target) of each example deployment",
    )
    prometheus.set_targets(targets, groups)
    variables = {v["name"]: v["query"] for v in board["templating"]["list"] if v["type"] == "query"}
    response_time = next(
        expr for title, ref, expr in panel_queries(board) if (title, ref) == ("Response time", "C")
    )

    def values_of(variable: str, environment: str) -> set[str]:
        return label_values(
            prometheus, variables[variable], {"namespace": namespace, "environment": environment}
        )

    wait_for(lambda: {"staging", "production"} <= values_of("environment", ".*"), timeout=60, interval=1)
    scoped = {"namespace": namespace, "modeldeployment": "sentiment|llama-chat", "environment": "staging"}
    panel = wait_for(lambda: prometheus.query(substitute(response_time, scoped)), timeout=60, interval=1)

    assert values_of("modeldeployment", "staging") == {"sentiment"}
    assert values_of("modeldeployment", "production") == {"llama-chat"}
    assert {series["metric"]["modeldeployment"] for series in panel} == {"sentiment"}
