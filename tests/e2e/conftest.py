"""End-to-end fixtures: the CRD installed, the traffic simulator, operator processes.

Everything real: the local kube-apiserver with kwok pods, Debian's Prometheus scraping
the traffic simulator, and `modelscaler run` as a process. Time is compressed: a 1 s
tick and scrape, a 10 s autoscaling window, delays of tens of seconds, 3 s cold starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.helpers import OperatorFactory
from tests.e2e.operator_process import OperatorProcess
from tests.support.cluster import Cluster, Prometheus

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "serving.modelscaler.io_modeldeployments.yaml"


@pytest.fixture(scope="session")
def crd_installed(cluster: Cluster) -> None:
    """The ModelDeployment CRD, applied once per session and established."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/modeldeployments.serving.modelscaler.io", "--timeout=60s"
    )


@pytest.fixture
def operators(
    cluster: Cluster, prometheus: Prometheus, namespace: str, crd_installed: None, tmp_path: Path
) -> Iterator[OperatorFactory]:
    """Starts operator processes for this test's namespace; all are stopped at the end.

    On failure their log tails are printed, so a red test shows what the operator said.
    """
    started: list[OperatorProcess] = []

    def start(identity: str = "operator-a", **kwargs: Any) -> OperatorProcess:
        process = OperatorProcess(
            kubeconfig=cluster.kubeconfig,
            prometheus_url=prometheus.url,
            namespace=namespace,
            log_dir=tmp_path,
            identity=identity,
            extra_env={"MODELSCALER_PROMETHEUS_SCRAPE_INTERVAL_SECONDS": str(prometheus.scrape_interval)},
            **kwargs,
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
    for process in started:
        print(f"--- log of {process.identity} (tail) ---\n{process.log_tail(40)}")
