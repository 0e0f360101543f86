"""Fixtures for tests against the local cluster and Prometheus (see tests/support/cluster.py).

Lazy: nothing starts unless a selected test uses `cluster`, `namespace` or `prometheus`; such tests
get the `cluster` marker automatically (`pytest -m "not cluster"` skips them). Before the first of
them runs, the binaries are built and Prometheus installed if needed, outside any test's timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cluster import (
    Cluster,
    LocalCluster,
    Prometheus,
    prepare_binaries_and_prometheus,
    unique_namespace_name,
    wait_for,
)

CLUSTER_FIXTURES = frozenset({"cluster", "namespace", "prometheus", "local_cluster"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a cluster fixture with `cluster` (before -m selects)."""
    for item in items:
        if CLUSTER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build binaries / install Prometheus before the first cluster test, so no test timeout covers it."""
    if session.config.option.collectonly:
        return
    if not any(item.get_closest_marker("cluster") for item in session.items):
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        prepare_binaries_and_prometheus()
        return
    with capture.global_and_fixture_disabled():
        prepare_binaries_and_prometheus()


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """The session's cluster and Prometheus: started once (or reused) and stopped at the end."""
    session_cluster = LocalCluster.open()
    try:
        yield session_cluster
    finally:
        session_cluster.close()


@pytest.fixture(scope="session")
def cluster(local_cluster: LocalCluster) -> Cluster:
    """The local control plane: kubeconfig, bin dirs, helm, kubectl(), api_client(), env."""
    return Cluster(local_cluster.state)


@pytest.fixture(scope="session")
def prometheus(local_cluster: LocalCluster) -> Prometheus:
    """The local Prometheus: url, set_targets(), remove_targets(), query(), stop(), start()."""
    return Prometheus(local_cluster.state)


@pytest.fixture(autouse=True)
def _prometheus_running_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that stopped Prometheus and failed before starting it does not break the next ones."""
    yield
    if "prometheus" in request.fixturenames:
        session_prometheus: Prometheus = request.getfixturevalue("prometheus")
        session_prometheus.start()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for this test, deleted afterwards (without waiting for the deletion)."""
    name = unique_namespace_name(request.node.name)
    cluster.kubectl("create", "namespace", name)
    # Pods can only be created once the namespace's default service account exists.
    wait_for(
        lambda: cluster.kubectl("-n", name, "get", "serviceaccount", "default", check=False).returncode == 0,
        timeout=60,
        message=f"the default service account in {name}",
    )
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def traffic(cluster: Cluster, prometheus: Prometheus, namespace: str, tmp_path: Path) -> Iterator[Any]:
    """The traffic simulator (hack/trafficsim) serving the metrics of this test's namespace's pods.

    Its targets go into Prometheus' file_sd directory; it is stopped (and its targets removed) after the test.
    Returns a hack.trafficsim.client.TrafficSimProcess.
    """
    from hack.trafficsim.client import TrafficSimProcess  # imported here: unit-only runs never load it

    simulator = TrafficSimProcess.start(
        cluster.kubeconfig,
        prometheus.state.file_sd_dir,
        namespaces=[namespace],
        log_path=tmp_path / "trafficsim.log",
    )
    try:
        yield simulator
    finally:
        simulator.stop()
