"""The sandbox's background processes: the operator and the traffic simulator.

Both are started detached (in a session of their own, owned by init) so that they outlive `up` and
a Ctrl-C in its terminal; their pids go into the sandbox's state, and `down` stops them by pid after
checking from the command line that the pid is still theirs.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hack import cluster as local_cluster
from hack.sandbox.state import SandboxState

TRAFFICSIM_ENTRY = Path(__file__).resolve().parents[1] / "trafficsim.py"
OPERATOR_TICK_SECONDS = 1.0
LEASE_DURATION_SECONDS = 6.0
LEASE_RENEW_SECONDS = 2.0
START_TIMEOUT_SECONDS = 120.0


class SandboxError(RuntimeError):
    """A part of the sandbox did not start, or is missing."""


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file (empty when there is none)."""
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def owns_operator(state: SandboxState) -> Callable[[list[str]], bool]:
    """Whether a command line is this sandbox's operator (its identity is unique to the sandbox)."""
    return lambda argv: "modelscaler" in argv and state.operator_identity in argv


def owns_trafficsim(state: SandboxState) -> Callable[[list[str]], bool]:
    """Whether a command line is this sandbox's simulator (its state file is in the sandbox's directory)."""
    return lambda argv: str(state.trafficsim_state_file) in argv


def operator_running(state: SandboxState) -> bool:
    """True when the recorded operator process runs."""
    pid = state.operator_pid
    return local_cluster.pid_alive(pid) and owns_operator(state)(local_cluster.process_cmdline(pid))


def trafficsim_running(state: SandboxState) -> bool:
    """True when the recorded simulator process runs."""
    pid = state.trafficsim_pid
    return local_cluster.pid_alive(pid) and owns_trafficsim(state)(local_cluster.process_cmdline(pid))


def operator_argv(state: SandboxState, cluster: local_cluster.ClusterState) -> list[str]:
    """`modelscaler run` for the sandbox's namespace, time compressed, under `env` with its settings."""
    return [
        "env",
        f"MODELSCALER_PROMETHEUS_URL={cluster.prometheus_url}",
        f"MODELSCALER_PROMETHEUS_SCRAPE_INTERVAL_SECONDS={cluster.scrape_interval_seconds}",
        sys.executable,
        "-m",
        "modelscaler",
        "run",
        "--kubeconfig",
        cluster.kubeconfig,
        "--namespace",
        state.namespace,
        "--tick",
        str(OPERATOR_TICK_SECONDS),
        "--http-host",
        "127.0.0.1",
        "--http-port",
        str(state.operator_port),
        "--identity",
        state.operator_identity,
        "--lease-namespace",
        state.namespace,
        "--lease-duration",
        str(LEASE_DURATION_SECONDS),
        "--lease-renew",
        str(LEASE_RENEW_SECONDS),
        "--log-format",
        "console",
    ]


def _wait_alive(pid: int, ready: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not ready():
        if not local_cluster.pid_alive(pid):
            raise SandboxError(f"{what} exited; the end of {log}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise SandboxError(f"{what} did not start in {START_TIMEOUT_SECONDS:.0f}s; see {log}")
        time.sleep(0.25)


def start_operator(state: SandboxState, cluster: local_cluster.ClusterState) -> None:
    """Start the operator in the background and wait until its /healthz answers; records pid and port."""
    state.operator_port = local_cluster.free_port()
    state.operator_identity = f"sandbox-{state.name}"
    pid = local_cluster.spawn_detached(operator_argv(state, cluster), str(state.operator_log))
    state.operator_pid = pid
    state.save()
    health = f"http://127.0.0.1:{state.operator_port}/healthz"
    _wait_alive(pid, lambda: local_cluster.http_ok(health), "the operator", state.operator_log)


def trafficsim_argv(state: SandboxState, cluster: local_cluster.ClusterState) -> list[str]:
    """The simulator following the sandbox's namespace; profiles are set later, through its API."""
    return [
        sys.executable,
        str(TRAFFICSIM_ENTRY),
        "--kubeconfig",
        cluster.kubeconfig,
        "--sd-dir",
        cluster.file_sd_dir,
        "--listen",
        "127.0.0.1:0",
        "--state-file",
        str(state.trafficsim_state_file),
        "--instance",
        f"sandbox-{state.name}".replace("_", "-"),
        "--namespace",
        state.namespace,
        "--log-level",
        "warning",
    ]


def start_trafficsim(state: SandboxState, cluster: local_cluster.ClusterState) -> None:
    """Start the simulator in the background (idle) and wait until it serves; records pid and URL."""
    state.trafficsim_state_file.unlink(missing_ok=True)
    pid = local_cluster.spawn_detached(trafficsim_argv(state, cluster), str(state.trafficsim_log))
    state.trafficsim_pid = pid
    state.save()
    _wait_alive(pid, state.trafficsim_state_file.is_file, "the traffic simulator", state.trafficsim_log)
    state.trafficsim_url = str(json.loads(state.trafficsim_state_file.read_text())["url"])
    state.save()


def _trafficsim_call(state: SandboxState, method: str, path: str, payload: object = None) -> Any:
    body = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{state.trafficsim_url}{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise SandboxError(
            f"traffic simulator: {method} {path}: {error.code} {error.read().decode()}"
        ) from error
    except OSError as error:
        raise SandboxError(f"traffic simulator: {method} {path}: {error}") from error


def trafficsim_pods(state: SandboxState) -> dict[str, tuple[int, int]]:
    """(Ready pods, all pods) the simulator knows, per deployment of the sandbox's namespace."""
    rows = _trafficsim_call(state, "GET", "/traffic")["deployments"]
    return {
        str(row["name"]): (len(row["ready_pods"]), int(row["pods"]))
        for row in rows
        if row["namespace"] == state.namespace
    }


def set_traffic(state: SandboxState, config: dict[str, Any]) -> None:
    """Give each deployment of the traffic config its profile: arrivals start now.

    Profiles are PUT once the simulator serves Ready pods rather than passed as --config, so that
    no request waits for a pod the simulator has not seen yet (a backlog that is not the demo's).
    """
    state.trafficsim_config.write_text(json.dumps(config, indent=2) + "\n")
    for entry in config.get("traffic") or []:
        _trafficsim_call(state, "PUT", f"/traffic/{entry['namespace']}/{entry['name']}", entry["profile"])


def stop_background(state: SandboxState) -> list[str]:
    """Stop the simulator (it removes its Prometheus targets) and the operator; what was stopped."""
    stopped = []
    if trafficsim_running(state):
        local_cluster.stop_process(state.trafficsim_pid, owns_trafficsim(state))
        stopped.append(f"traffic simulator (pid {state.trafficsim_pid})")
    if operator_running(state):
        local_cluster.stop_process(state.operator_pid, owns_operator(state), grace=20.0)
        stopped.append(f"operator (pid {state.operator_pid})")
    return stopped
