"""Handles on the local cluster and Prometheus for tests (the fixtures in tests/conftest.py build them).

The cluster is the real thing that `hack/cluster.py up` starts: kube-apiserver, etcd, the controller
manager and scheduler, kwok simulating nodes and pods, and Debian's Prometheus. A test session
either starts its own (and stops it at the end) or reuses a running one named by the environment
variable MODELSCALER_CLUSTER (a cluster name or state directory, as `hack/cluster.py env` prints).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hack import cluster as local_cluster

CLUSTER_ENV_VAR = "MODELSCALER_CLUSTER"
T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    interval: float = 0.2,
    message: str = "condition",
) -> T:
    """Call `predicate` until it returns something truthy and return that; TimeoutError after `timeout` s.

    The timeout is a bound on waiting for the cluster to converge, not a speed assertion: choose it
    generously. The last value the predicate returned is shown in the error.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"timed out after {timeout:.1f}s waiting for {message} (last value: {value!r})"
            )
        time.sleep(interval)


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; the message carries its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {self.stderr}"


class Cluster:
    """The local control plane: its kubeconfig, binaries, kubectl and API client."""

    def __init__(self, state: local_cluster.ClusterState) -> None:
        self.state = state

    @property
    def kubeconfig(self) -> str:
        """Path of the cluster's own kubeconfig."""
        return self.state.kubeconfig

    @property
    def bin_dir(self) -> Path:
        """The directory of kubectl and the Kubernetes binaries."""
        return Path(self.state.kubectl).parent

    @property
    def bin_dirs(self) -> list[Path]:
        """Every directory of locally built binaries (Kubernetes, etcd, kwok, helm)."""
        return [Path(d) for d in self.state.bin_dirs]

    @property
    def helm(self) -> str:
        """Path of the helm binary."""
        return self.state.helm

    @property
    def env(self) -> dict[str, str]:
        """An environment for subprocesses: this one with KUBECONFIG set and the bin dirs first on PATH."""
        return self.state.subprocess_env()

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the cluster (text mode); with check, a failure raises KubectlError."""
        result = local_cluster.kubectl_run(self.state, args, input_text=input, check=False)
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def api_client(self) -> Any:
        """A new kubernetes.client.ApiClient for the cluster (close it when done)."""
        from kubernetes import config  # imported here so that unit tests never load the client

        return config.new_client_from_config(config_file=self.kubeconfig)


class PrometheusQueryError(RuntimeError):
    """Prometheus answered a query with an error, or did not answer."""


class Prometheus:
    """The local Prometheus: targets through file-based discovery, queries through the HTTP API."""

    def __init__(self, state: local_cluster.ClusterState) -> None:
        self.state = state

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT (it stays the same across stop() and start())."""
        return self.state.prometheus_url

    @property
    def scrape_interval(self) -> float:
        """Seconds between two scrapes of a target."""
        return self.state.scrape_interval_seconds

    def _targets_file(self, name: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"target group name {name!r} must be a plain file name")
        return Path(self.state.file_sd_dir) / f"{name}.json"

    def set_targets(self, name: str, targets: list[dict[str, Any]]) -> None:
        """Write (or replace) the file_sd file `<name>.json`: [{"targets": [...], "labels": {...}}, ...].

        Labels may include the __meta_kubernetes_* ones that Kubernetes discovery sets; Prometheus
        relabels them as a production PodMonitor would (modeldeployment, namespace, pod).
        """
        path = self._targets_file(name)
        partial = path.with_name(f".{name}.partial")  # not *.json, so Prometheus never reads it half-written
        partial.write_text(json.dumps(targets, indent=2))
        partial.replace(path)

    def remove_targets(self, name: str) -> None:
        """Delete the file_sd file `<name>.json` (Prometheus drops its targets on the next refresh)."""
        self._targets_file(name).unlink(missing_ok=True)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query and return data.result; PrometheusQueryError on any failure."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                detail = error.read().decode(errors="replace")
            raise PrometheusQueryError(f"{promql!r}: HTTP {error.code}: {detail}") from error
        except (urllib.error.URLError, OSError) as error:
            raise PrometheusQueryError(
                f"{promql!r}: Prometheus at {self.url} did not answer: {error}"
            ) from error
        if body.get("status") != "success":
            raise PrometheusQueryError(f"{promql!r}: {body.get('errorType')}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def is_running(self) -> bool:
        """True when Prometheus answers /-/ready."""
        return local_cluster.http_ok(f"{self.url}/-/ready")

    def stop(self) -> None:
        """Stop the Prometheus process (its TSDB and port are kept for start())."""
        local_cluster.stop_prometheus(self.state)

    def start(self) -> None:
        """Start Prometheus again on the same port with the same data, and wait until it is ready."""
        local_cluster.start_prometheus(self.state)


class LocalCluster:
    """The session's cluster: started here (and stopped by close()) or reused from MODELSCALER_CLUSTER."""

    def __init__(self, state: local_cluster.ClusterState, owned: bool) -> None:
        self.state = state
        self.owned = owned

    @classmethod
    def open(cls) -> LocalCluster:
        """Reuse the running cluster named by MODELSCALER_CLUSTER, or start one for this session."""
        named = os.environ.get(CLUSTER_ENV_VAR)
        if named:
            state = local_cluster.resolve_state(named)
            if not local_cluster.is_healthy(state):
                raise RuntimeError(f"{CLUSTER_ENV_VAR}={named} is not healthy; see: hack/cluster.py status")
            return cls(state, owned=False)
        stop_abandoned_session_clusters()
        return cls(local_cluster.up(session_cluster_name()), owned=True)

    def close(self) -> None:
        """Stop the cluster if this session started it."""
        if self.owned:
            local_cluster.down(self.state.name, self.state)


SESSION_PREFIX = "pytest-"


def session_cluster_name() -> str:
    """A cluster name of its own for this test run, so that concurrent runs never share state."""
    return f"{SESSION_PREFIX}{os.getpid()}"


def stop_abandoned_session_clusters() -> None:
    """Stop the clusters of earlier test runs that died before their teardown (their pid is gone)."""
    clusters_dir = local_cluster.cache_root() / "clusters"
    for state_dir in sorted(clusters_dir.glob(f"{SESSION_PREFIX}*")):
        owner = state_dir.name.removeprefix(SESSION_PREFIX)
        if owner.isdigit() and not local_cluster.pid_alive(int(owner)):
            # Another run may be cleaning up the same one at this moment.
            cleanup_races = (local_cluster.ClusterError, OSError, ValueError, subprocess.SubprocessError)
            with contextlib.suppress(*cleanup_races):
                local_cluster.down(state_dir.name)


def prepare_binaries_and_prometheus() -> None:
    """Build the cluster binaries and install Prometheus if missing (slow only the first time)."""
    if os.environ.get(CLUSTER_ENV_VAR):
        return
    local_cluster.ensure_binaries()
    local_cluster.ensure_prometheus()


def unique_namespace_name(test_name: str) -> str:
    """A valid, unique namespace name derived from a test's name: t-<name>-<random>, at most 63 chars."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:45].strip("-")
    return f"t-{slug}-{secrets.token_hex(4)}" if slug else f"t-{secrets.token_hex(4)}"
