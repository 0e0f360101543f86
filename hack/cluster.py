#!/usr/bin/env python3
"""The local cluster: a real control plane whose nodes and pods kwok simulates, plus Prometheus.

    hack/cluster.py up [--name NAME] [--nodes N]   build (once) and start everything
    hack/cluster.py down [--name NAME]             stop exactly what `up` started, remove its state
    hack/cluster.py status [--name NAME]           what runs (exit 1 when something is down)
    hack/cluster.py env [--name NAME]              shell exports: eval "$(hack/cluster.py env)"

Everything lives under ${MODELSCALER_CACHE:-${XDG_CACHE_HOME:-~/.cache}/modelscaler}/clusters/NAME:
kwokctl's work dir, the cluster's own kubeconfig (never ~/.kube/config), Prometheus' config,
TSDB and file_sd directory, logs, and state.json that records what runs. Standard library only,
so that it runs before any virtualenv exists. The pytest fixtures (tests/support/cluster.py)
import this module and use the same functions.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

HACK_DIR = Path(__file__).resolve().parent
DEFAULT_NAME = "modelscaler"
DEFAULT_NODE_COUNT = 4
NODE_CAPACITY = {"cpu": "64", "memory": "256Gi", "pods": "250", "nvidia.com/gpu": "8"}
SCRAPE_INTERVAL_SECONDS = 1.0
PROMETHEUS_RETENTION = "6h"
PROMETHEUS_INSTALL_COMMAND = "apt-get update && apt-get install -y --no-install-recommends prometheus"
STATE_FILE = "state.json"
POD_CIDR = "10.0.0.0/16"

_started_at = time.monotonic()


class ClusterError(RuntimeError):
    """Something the local cluster needs is missing or did not come up."""


def progress(message: str) -> None:
    """Print one progress line with the seconds elapsed since this process started."""
    print(f"[cluster {time.monotonic() - _started_at:6.1f}s] {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    """The cache for binaries and cluster state, outside the repository."""
    explicit = os.environ.get("MODELSCALER_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "modelscaler"


def state_dir_for(name: str) -> Path:
    """Where the cluster called `name` keeps its state."""
    return cache_root() / "clusters" / name


def read_versions() -> dict[str, str]:
    """The pinned versions from hack/versions.env (KEY=VALUE lines)."""
    versions: dict[str, str] = {}
    for line in (HACK_DIR / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


@dataclasses.dataclass(frozen=True)
class Binaries:
    """Paths of the locally built binaries, keyed by the pinned versions."""

    kubernetes_dir: Path
    etcd_dir: Path
    kwok_dir: Path
    helm_dir: Path

    @classmethod
    def from_versions(cls, versions: dict[str, str]) -> Binaries:
        """The cache directories that hack/build-binaries.sh fills for these versions."""
        bin_root = cache_root() / "bin"
        return cls(
            kubernetes_dir=bin_root / f"kubernetes-{versions['KUBERNETES_VERSION']}",
            etcd_dir=bin_root / f"etcd-{versions['ETCD_VERSION']}",
            kwok_dir=bin_root / f"kwok-{versions['KWOK_VERSION']}",
            helm_dir=bin_root / f"helm-{versions['HELM_VERSION']}",
        )

    @property
    def dirs(self) -> list[Path]:
        """Every bin directory, for PATH."""
        return [self.kubernetes_dir, self.etcd_dir, self.kwok_dir, self.helm_dir]

    @property
    def kubectl(self) -> Path:
        """The kubectl binary."""
        return self.kubernetes_dir / "kubectl"

    @property
    def kwokctl(self) -> Path:
        """The kwokctl binary."""
        return self.kwok_dir / "kwokctl"

    @property
    def helm(self) -> Path:
        """The helm binary."""
        return self.helm_dir / "helm"

    def all_built(self) -> bool:
        """True when every component's build finished (its .done marker exists)."""
        return all((d / ".done").is_file() for d in self.dirs)


def ensure_binaries() -> Binaries:
    """Build the binaries that are not cached yet (a no-op when all are)."""
    binaries = Binaries.from_versions(read_versions())
    if not binaries.all_built():
        progress("building the cluster binaries (first time only; the Kubernetes build takes long)")
    subprocess.run([str(HACK_DIR / "build-binaries.sh")], check=True, stdout=sys.stderr)
    return binaries


def ensure_prometheus() -> str:
    """The prometheus binary on PATH, installed from Debian's packages when missing (as root)."""
    found = shutil.which("prometheus")
    if found:
        return found
    if os.geteuid() != 0:
        raise ClusterError(f"Prometheus is not installed; as root run: {PROMETHEUS_INSTALL_COMMAND}")
    progress("installing Prometheus from Debian's packages")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, stdout=sys.stderr, env=apt_env)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"],
        check=True,
        stdout=sys.stderr,
        env=apt_env,
    )
    found = shutil.which("prometheus")
    if not found:
        raise ClusterError(f"apt-get installed no prometheus binary; try: {PROMETHEUS_INSTALL_COMMAND}")
    return found


@dataclasses.dataclass
class ClusterState:
    """What `up` started, saved as state.json in the cluster's state directory."""

    name: str
    state_dir: str
    kubeconfig: str
    kwok_workdir: str
    bin_dirs: list[str]
    kubectl: str
    kwokctl: str
    helm: str
    prometheus_binary: str
    prometheus_url: str
    prometheus_port: int
    prometheus_pid: int
    prometheus_config: str
    prometheus_data_dir: str
    prometheus_log: str
    file_sd_dir: str
    scrape_interval_seconds: float
    node_count: int
    control_plane_pids: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def path(self) -> Path:
        """The state.json file."""
        return Path(self.state_dir) / STATE_FILE

    def save(self) -> None:
        """Write state.json atomically."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        tmp.replace(self.path)

    @classmethod
    def load(cls, path: Path) -> ClusterState:
        """Read a state.json (or the state.json inside a state directory)."""
        if path.is_dir():
            path = path / STATE_FILE
        data = json.loads(path.read_text())
        return cls(**data)

    def subprocess_env(self) -> dict[str, str]:
        """This process' environment with KUBECONFIG and the bin directories first on PATH."""
        path = os.pathsep.join([*self.bin_dirs, os.environ.get("PATH", "")])
        return {**os.environ, "KUBECONFIG": self.kubeconfig, "PATH": path}

    def kwok_env(self) -> dict[str, str]:
        """The environment for kwokctl: its work dir inside our state directory."""
        return {**self.subprocess_env(), "KWOK_WORKDIR": self.kwok_workdir}

    def kwok_pid_files(self) -> list[Path]:
        """The pid files kwokctl keeps for the control-plane processes it started."""
        return sorted((Path(self.kwok_workdir) / "clusters" / self.name / "pids").glob("*.pid"))


def resolve_state(name_or_path: str) -> ClusterState:
    """The state of a running cluster given its name, its state directory or its state.json."""
    if os.sep in name_or_path or name_or_path.endswith(".json"):
        candidate = Path(name_or_path).expanduser()
    else:
        candidate = state_dir_for(name_or_path)
    state_file = candidate / STATE_FILE if candidate.is_dir() or not candidate.suffix else candidate
    if not state_file.is_file():
        raise ClusterError(f"no local cluster state at {state_file}; start one with: hack/cluster.py up")
    return ClusterState.load(state_file)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    """Poll `check` until it returns True; raise ClusterError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    """True when GET url answers 2xx within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


def pid_alive(pid: int) -> bool:
    """True when the process runs (a zombie, dead but not yet reaped by init, counts as gone)."""
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def process_cmdline(pid: int) -> list[str]:
    """The command line of a process, empty when it is gone."""
    try:
        return [part for part in Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0") if part]
    except OSError:
        return []


def stop_process(pid: int, owns: Callable[[list[str]], bool], grace: float = 10.0) -> None:
    """SIGTERM the process if its command line shows it is ours, SIGKILL after `grace` seconds."""
    if not pid_alive(pid) or not owns(process_cmdline(pid)):
        return
    os.kill(pid, signal.SIGTERM)
    try:
        wait_until(lambda: not pid_alive(pid), grace, f"process {pid} to stop", interval=0.1)
    except ClusterError:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), 5, f"process {pid} to die", interval=0.1)


def spawn_detached(argv: Sequence[str], log_path: str) -> int:
    """Start argv in a session of its own, not as our child, so it outlives us; return its pid.

    A shell starts it in the background and exits, so the process belongs to init from the
    start: this process (a CLI run or a test session) never has to reap it.
    """
    script = f"{shlex.join(argv)} </dev/null >>{shlex.quote(log_path)} 2>&1 & echo $!"
    started = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, check=True, start_new_session=True
    )
    return int(started.stdout.strip())


def kubectl_run(
    state: ClusterState, args: Sequence[str], input_text: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the cluster's kubectl with its kubeconfig."""
    return subprocess.run(
        [state.kubectl, "--kubeconfig", state.kubeconfig, *args],
        input=input_text,
        capture_output=True,
        text=True,
        check=check,
        env=state.subprocess_env(),
        timeout=60,
    )


# ---------------------------------------------------------------- Prometheus


def render_prometheus_config(state: ClusterState) -> None:
    """Write Prometheus' config from the project's template."""
    template = string.Template((HACK_DIR / "prometheus" / "prometheus.yml").read_text())
    Path(state.prometheus_config).write_text(template.substitute(file_sd_dir=state.file_sd_dir))


def _owns_prometheus(state: ClusterState) -> Callable[[list[str]], bool]:
    return lambda argv: f"--config.file={state.prometheus_config}" in argv


def start_prometheus(state: ClusterState) -> None:
    """Start Prometheus on the state's port and wait until it is ready; records its pid in state.json."""
    if pid_alive(state.prometheus_pid) and _owns_prometheus(state)(process_cmdline(state.prometheus_pid)):
        return
    argv = [
        state.prometheus_binary,
        f"--config.file={state.prometheus_config}",
        f"--storage.tsdb.path={state.prometheus_data_dir}",
        f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}",
        f"--web.listen-address=127.0.0.1:{state.prometheus_port}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]
    pid = spawn_detached(argv, state.prometheus_log)
    state.prometheus_pid = pid
    state.save()

    def ready() -> bool:
        if not pid_alive(pid):
            raise ClusterError(f"Prometheus exited; see {state.prometheus_log}")
        return http_ok(f"{state.prometheus_url}/-/ready")

    wait_until(ready, 60, "Prometheus to be ready")


def stop_prometheus(state: ClusterState) -> None:
    """Stop the Prometheus this state records (data and port are kept for a restart)."""
    stop_process(state.prometheus_pid, _owns_prometheus(state))


# ---------------------------------------------------------------- the control plane


def kwokctl_config(binaries: Binaries, versions: dict[str, str]) -> str:
    """kwokctl's configuration (JSON is YAML) followed by the project's Stages."""
    options = {
        "runtime": "binary",
        "bindAddress": "127.0.0.1",
        "kubeVersion": versions["KUBERNETES_VERSION"],
        "etcdVersion": versions["ETCD_VERSION"].lstrip("v"),
        "kwokVersion": versions["KWOK_VERSION"],
        "kubeApiserverBinary": str(binaries.kubernetes_dir / "kube-apiserver"),
        "kubeControllerManagerBinary": str(binaries.kubernetes_dir / "kube-controller-manager"),
        "kubeSchedulerBinary": str(binaries.kubernetes_dir / "kube-scheduler"),
        "kubectlBinary": str(binaries.kubectl),
        "etcdBinary": str(binaries.etcd_dir / "etcd"),
        "kwokControllerBinary": str(binaries.kwok_dir / "kwok"),
    }
    config = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": options,
    }
    stages = (HACK_DIR / "kwok" / "stages.yaml").read_text()
    return json.dumps(config, indent=2) + "\n---\n" + stages


def kwokctl_create_argv(state: ClusterState, binaries: Binaries, config_path: Path) -> list[str]:
    """`kwokctl create cluster` with every binary flag pointing at the local builds."""
    return [
        state.kwokctl,
        "--name",
        state.name,
        "create",
        "cluster",
        "--config",
        str(config_path),
        "--runtime",
        "binary",
        "--kubeconfig",
        state.kubeconfig,
        "--kube-apiserver-binary",
        str(binaries.kubernetes_dir / "kube-apiserver"),
        "--kube-controller-manager-binary",
        str(binaries.kubernetes_dir / "kube-controller-manager"),
        "--kube-scheduler-binary",
        str(binaries.kubernetes_dir / "kube-scheduler"),
        "--etcd-binary",
        str(binaries.etcd_dir / "etcd"),
        "--kwok-controller-binary",
        str(binaries.kwok_dir / "kwok"),
        # Fake pod IPs (nothing listens on them) from a range large enough for every test's pods.
        "--extra-args",
        f"kwok-controller=cidr={POD_CIDR}",
        "--timeout",
        "120s",
    ]


def check_nothing_downloaded(state: ClusterState, argv: list[str]) -> None:
    """Run kwokctl's --dry-run and refuse when its plan would fetch anything from the network."""
    plan = subprocess.run(
        [*argv, "--dry-run"], capture_output=True, text=True, env=state.kwok_env(), timeout=60
    )
    # A local binary shows as "# Download /path to ..." (kwokctl symlinks it); a fetch names a URL.
    fetching = [
        line for line in plan.stdout.splitlines() if re.search(r"Download https?://|\b(curl|wget)\b", line)
    ]
    if plan.returncode != 0 or fetching:
        detail = "\n".join(fetching) or plan.stderr
        raise ClusterError(f"kwokctl's plan would download or failed:\n{detail}")


def node_manifests(count: int) -> str:
    """A v1 List of `count` fake GPU nodes that kwok manages."""
    nodes = []
    for index in range(count):
        name = f"kwok-node-{index}"
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        "nvidia.com/gpu.present": "true",
                    },
                },
                "status": {"capacity": NODE_CAPACITY, "allocatable": NODE_CAPACITY},
            }
        )
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes})


def nodes_ready(state: ClusterState) -> int:
    """How many nodes report Ready=True."""
    listing = kubectl_run(state, ["get", "nodes", "-o", "json"], check=False)
    if listing.returncode != 0:
        return 0
    ready = 0
    for node in json.loads(listing.stdout)["items"]:
        conditions = node.get("status", {}).get("conditions", [])
        ready += any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return ready


def apiserver_ready(state: ClusterState) -> bool:
    """True when the kube-apiserver answers /readyz."""
    return kubectl_run(state, ["get", "--raw", "/readyz"], check=False).returncode == 0


def while_control_plane_runs(
    state: ClusterState, check: Callable[[ClusterState], bool]
) -> Callable[[], bool]:
    """`check` as a wait_until predicate that fails at once, with the log's end, when a component exited."""

    def checked() -> bool:
        for component, pid in kwok_pids(state).items():
            if not pid_alive(pid):
                log = Path(state.kwok_workdir) / "clusters" / state.name / "logs" / f"{component}.log"
                tail = log.read_text(errors="replace").splitlines()[-5:] if log.is_file() else []
                raise ClusterError(f"{component} exited; the end of {log}:\n" + "\n".join(tail))
        return check(state)

    return checked


def is_healthy(state: ClusterState) -> bool:
    """True when the API server and Prometheus both answer."""
    return apiserver_ready(state) and http_ok(f"{state.prometheus_url}/-/ready")


@contextlib.contextmanager
def control_plane_start_lock() -> Iterator[None]:
    """Start one control plane at a time on this machine.

    kwokctl picks each component's port by probing for a free one from the same starting point, and
    a port is only taken once the component listens: two clusters starting at once would pick the
    same ports. The lock is held until the components listen (the nodes are Ready).
    """
    path = cache_root() / "clusters" / ".start.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("waiting for another cluster to finish starting")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def failure_report(state: ClusterState, lines: int = 8) -> str:
    """The last lines of kwokctl's log, each component's log and Prometheus' log."""
    logs = [Path(state.state_dir) / "kwokctl.log", Path(state.prometheus_log)]
    logs += sorted((Path(state.kwok_workdir) / "clusters" / state.name / "logs").glob("*.log"))
    report = []
    for log in logs:
        if log.is_file():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            report.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(report)


def up(name: str = DEFAULT_NAME, node_count: int = DEFAULT_NODE_COUNT) -> ClusterState:
    """Start the cluster and Prometheus (reusing a healthy one of that name) and return its state."""
    state_dir = state_dir_for(name)
    if (state_dir / STATE_FILE).is_file():
        existing = ClusterState.load(state_dir)
        if is_healthy(existing):
            progress(f"cluster {name!r} is already up ({state_dir})")
            return existing
        progress(f"cluster {name!r} has stale state; cleaning it up first")
        down(name)

    versions = read_versions()
    binaries = ensure_binaries()
    prometheus_binary = ensure_prometheus()
    t0 = time.monotonic()
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    state = ClusterState(
        name=name,
        state_dir=str(state_dir),
        kubeconfig=str(state_dir / "kubeconfig"),
        kwok_workdir=str(state_dir / "kwok"),
        bin_dirs=[str(d) for d in binaries.dirs],
        kubectl=str(binaries.kubectl),
        kwokctl=str(binaries.kwokctl),
        helm=str(binaries.helm),
        prometheus_binary=prometheus_binary,
        prometheus_url=f"http://127.0.0.1:{port}",
        prometheus_port=port,
        prometheus_pid=0,
        prometheus_config=str(state_dir / "prometheus.yml"),
        prometheus_data_dir=str(state_dir / "prometheus-data"),
        prometheus_log=str(state_dir / "prometheus.log"),
        file_sd_dir=str(state_dir / "file_sd"),
        scrape_interval_seconds=SCRAPE_INTERVAL_SECONDS,
        node_count=node_count,
    )
    Path(state.file_sd_dir).mkdir(exist_ok=True)
    state.save()
    try:
        config_path = state_dir / "kwokctl.yaml"
        config_path.write_text(kwokctl_config(binaries, versions))
        argv = kwokctl_create_argv(state, binaries, config_path)
        check_nothing_downloaded(state, argv)
        with control_plane_start_lock():
            progress(f"starting the control plane (Kubernetes {versions['KUBERNETES_VERSION']})")
            with open(state_dir / "kwokctl.log", "ab") as log:
                subprocess.run(argv, check=True, stdout=log, stderr=log, env=state.kwok_env(), timeout=300)
            wait_until(while_control_plane_runs(state, apiserver_ready), 120, "the kube-apiserver")
            state.control_plane_pids = kwok_pids(state)
            state.save()
            progress(f"creating {node_count} fake GPU nodes")
            kubectl_run(state, ["apply", "-f", "-"], input_text=node_manifests(node_count))
            wait_until(
                while_control_plane_runs(state, lambda s: nodes_ready(s) >= node_count),
                60,
                f"{node_count} Ready nodes",
            )
        service_account = ["-n", "default", "get", "serviceaccount", "default"]
        wait_until(
            lambda: kubectl_run(state, service_account, check=False).returncode == 0,
            60,
            "the default service account",
        )
        progress("starting Prometheus")
        render_prometheus_config(state)
        start_prometheus(state)
    except BaseException:
        progress("start failed; the end of each log follows, then what was started is stopped")
        print(failure_report(state), file=sys.stderr)
        down(name)
        raise
    progress(f"up in {time.monotonic() - t0:.1f}s; kubeconfig {state.kubeconfig}")
    return state


def kwok_pids(state: ClusterState) -> dict[str, int]:
    """Process ids of the control plane, from the pid files kwokctl writes."""
    pids: dict[str, int] = {}
    for pid_file in state.kwok_pid_files():
        with contextlib.suppress(ValueError, OSError):
            pids[pid_file.stem] = int(pid_file.read_text().strip())
    return pids


def running_pids(state: ClusterState) -> dict[str, int]:
    """Process ids of what the cluster runs: the control plane and Prometheus."""
    return {**state.control_plane_pids, **kwok_pids(state), "prometheus": state.prometheus_pid}


def down(name: str = DEFAULT_NAME, state: ClusterState | None = None) -> None:
    """Stop what `up` started for this cluster, by process id, and remove its state directory."""
    state_dir = Path(state.state_dir) if state else state_dir_for(name)
    if state is None and (state_dir / STATE_FILE).is_file():
        state = ClusterState.load(state_dir)
    if state is None:
        if state_dir.exists():
            shutil.rmtree(state_dir)
        progress(f"no cluster {name!r} to stop")
        return
    pids = running_pids(state)
    if Path(state.kwokctl).is_file() and (Path(state.kwok_workdir) / "clusters" / state.name).exists():
        progress(f"stopping the control plane of {state.name!r}")
        subprocess.run(
            [state.kwokctl, "--name", state.name, "delete", "cluster", "--kubeconfig", state.kubeconfig],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=state.kwok_env(),
            timeout=120,
        )
    progress("stopping Prometheus")
    stop_prometheus(state)
    wait_until(lambda: not any(pid_alive(pid) for pid in pids.values()), 30, "every cluster process to exit")
    shutil.rmtree(state.state_dir, ignore_errors=True)
    progress(f"cluster {state.name!r} is down; no process of it is left ({len(pids)} checked)")


def status_lines(state: ClusterState) -> tuple[list[str], bool]:
    """Human-readable status of each part, and whether all of them run."""
    lines = [f"cluster {state.name} ({state.state_dir})"]
    healthy = True
    for component, pid in running_pids(state).items():
        alive = pid_alive(pid)
        healthy &= alive
        lines.append(f"  {component:<24} pid {pid:<8} {'running' if alive else 'NOT RUNNING'}")
    api_ok = apiserver_ready(state)
    prom_ok = http_ok(f"{state.prometheus_url}/-/ready")
    healthy &= api_ok and prom_ok
    lines.append(f"  {'kube-apiserver':<24} {'ready' if api_ok else 'NOT READY'} ({state.kubeconfig})")
    if api_ok:
        lines.append(f"  {'nodes ready':<24} {nodes_ready(state)}/{state.node_count}")
    lines.append(f"  {'prometheus':<24} {'ready' if prom_ok else 'NOT READY'} at {state.prometheus_url}")
    lines.append(f"  {'file_sd directory':<24} {state.file_sd_dir}")
    return lines, healthy


def env_exports(state: ClusterState) -> str:
    """Shell lines that point kubectl, helm, the tests and the operator at this cluster."""
    path = os.pathsep.join(state.bin_dirs)
    return "\n".join(
        [
            f"export KUBECONFIG={shlex.quote(state.kubeconfig)}",
            f"export MODELSCALER_PROMETHEUS_URL={shlex.quote(state.prometheus_url)}",
            f"export MODELSCALER_CLUSTER={shlex.quote(state.state_dir)}",
            f'export PATH={shlex.quote(path)}:"$PATH"',
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--name", default=os.environ.get("MODELSCALER_CLUSTER_NAME", DEFAULT_NAME))
    parser.add_argument("--nodes", type=int, default=DEFAULT_NODE_COUNT, help="fake nodes to create (up)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            state = up(args.name, args.nodes)
            print(env_exports(state))
        elif args.command == "down":
            down(args.name)
        elif args.command == "status":
            lines, healthy = status_lines(resolve_state(args.name))
            print("\n".join(lines))
            return 0 if healthy else 1
        else:
            print(env_exports(resolve_state(args.name)))
    except (ClusterError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
