"""`hack/sandbox.py up | down | status`: the one-command demo of modelscaler on the local cluster.

`up` brings up (or reuses) the local cluster and Prometheus, installs the CRD, creates the namespace,
starts the operator and the traffic simulator in the background, applies the demo ModelDeployments
and prints what happens for `--duration` seconds; everything keeps running afterwards. `down` stops
what `up` started, by pid, and the cluster. State: ${MODELSCALER_CACHE:-~/.cache/modelscaler}/sandbox/NAME.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hack import cluster as local_cluster
from hack.sandbox import processes, scenario
from hack.sandbox.processes import SandboxError
from hack.sandbox.state import DEFAULT_NAME, DEFAULT_NAMESPACE, SandboxState, sandbox_dir
from hack.sandbox.watch import watch

CLUSTER_ENV = "MODELSCALER_CLUSTER"
CLUSTER_START_ATTEMPTS = 3
DEFAULT_DURATION_SECONDS = 240.0
DEFAULT_INTERVAL_SECONDS = 5.0
SCRIPT = ".venv/bin/python hack/sandbox.py"
FIRST_READY_TIMEOUT_SECONDS = 90.0
CLUSTER_ERRORS = (local_cluster.ClusterError, subprocess.CalledProcessError, subprocess.TimeoutExpired)


def say(message: str) -> None:
    """One progress line of the sandbox itself."""
    print(f"[sandbox] {message}", flush=True)


def _emit(line: str) -> None:
    print(line, flush=True)


def start_cluster(name: str) -> local_cluster.ClusterState:
    """The cluster named `name` (reused when healthy), retried when a start fails on a busy machine."""
    for attempt in range(1, CLUSTER_START_ATTEMPTS + 1):
        try:
            return local_cluster.up(name)
        except CLUSTER_ERRORS as error:
            if attempt == CLUSTER_START_ATTEMPTS:
                raise
            say(f"the cluster did not start ({error}); retrying ({attempt + 1}/{CLUSTER_START_ATTEMPTS})")
            time.sleep(5 * attempt)
    raise AssertionError("unreachable")


def open_cluster(name: str, previous: SandboxState | None) -> tuple[local_cluster.ClusterState, bool]:
    """The sandbox's cluster and whether the sandbox owns it.

    A running sandbox keeps its cluster; otherwise MODELSCALER_CLUSTER names one to reuse (it is
    left running by `down`), else the sandbox starts its own, named like the sandbox.
    """
    if previous is not None:
        try:
            existing = previous.cluster()
        except local_cluster.ClusterError:
            existing = None
        if existing is not None and local_cluster.is_healthy(existing):
            return existing, previous.cluster_owned
        say("the sandbox's cluster is gone; starting over")
        processes.stop_background(previous)
    named = os.environ.get(CLUSTER_ENV)
    if named:
        reused = local_cluster.resolve_state(named)
        if not local_cluster.is_healthy(reused):
            raise SandboxError(f"{CLUSTER_ENV}={named} is not healthy; see: hack/cluster.py status")
        say(f"reusing the running cluster {reused.name!r} ({CLUSTER_ENV} is set); `down` leaves it running")
        return reused, False
    say(f"starting the local cluster {name!r} and Prometheus (binaries are built on first use)")
    return start_cluster(name), True


def install_crd(cluster: local_cluster.ClusterState) -> None:
    """Apply the ModelDeployment CRD and wait until it is established."""
    local_cluster.kubectl_run(
        cluster, ["apply", "--server-side", "--force-conflicts", "-f", str(scenario.CRD_FILE)]
    )
    local_cluster.kubectl_run(
        cluster, ["wait", "--for=condition=Established", f"crd/{scenario.CRD_NAME}", "--timeout=60s"]
    )


def ensure_namespace(cluster: local_cluster.ClusterState, namespace: str) -> None:
    """Create the namespace if missing and wait for its default ServiceAccount (pods need it)."""
    manifest = f'{{"apiVersion": "v1", "kind": "Namespace", "metadata": {{"name": "{namespace}"}}}}'
    local_cluster.kubectl_run(cluster, ["apply", "-f", "-"], input_text=manifest)
    account = ["-n", namespace, "get", "serviceaccount", "default"]
    local_cluster.wait_until(
        lambda: local_cluster.kubectl_run(cluster, account, check=False).returncode == 0,
        60,
        f"the default service account of {namespace}",
    )


def wait_for_first_replicas(state: SandboxState, names: list[str]) -> None:
    """Wait (bounded) until every pod of each deployment is Ready in the simulator's eyes."""

    def serving() -> bool:
        pods = processes.trafficsim_pods(state)
        return all(pods.get(name, (0, 0))[0] >= 1 and pods[name][0] == pods[name][1] for name in names)

    try:
        local_cluster.wait_until(
            serving, FIRST_READY_TIMEOUT_SECONDS, "the first Ready replicas", interval=0.5
        )
    except local_cluster.ClusterError:
        say(
            f"not every deployment has a Ready replica after {FIRST_READY_TIMEOUT_SECONDS:.0f} s; "
            "starting the traffic anyway"
        )


def explore_commands(state: SandboxState, cluster: local_cluster.ClusterState) -> list[str]:
    """The commands and URLs printed at the end of `up`."""
    ns = state.namespace
    path = os.pathsep.join(cluster.bin_dirs)
    first = scenario.model_names()[0] if scenario.model_names() else "NAME"
    down = "make sandbox-down" if state.name == DEFAULT_NAME else f"{SCRIPT} down --name {state.name}"
    again = "make sandbox" if state.name == DEFAULT_NAME else f"{SCRIPT} up --name {state.name}"
    return [
        "The sandbox keeps running. Explore it:",
        f"  export KUBECONFIG={cluster.kubeconfig}",
        f'  export PATH="{path}:$PATH"     # kubectl and helm',
        f"  kubectl get md -n {ns}             # READY, CONCURRENCY, TARGET, MODE, DIAGNOSIS",
        f"  kubectl describe md {first} -n {ns}     # conditions, last decision, recommendations, Events",
        f"  kubectl get events -n {ns} --sort-by=.lastTimestamp",
        f"  kubectl get md summarize -n {ns} -o jsonpath='{{.status.recommendations}}'",
        f"  Prometheus:        {cluster.prometheus_url}/graph  (try: sum by (modeldeployment) "
        "(vllm:num_requests_running))",
        f"  operator /metrics: {state.operator_metrics_url}",
        f"  logs:              {state.operator_log}  {state.trafficsim_log}",
        f"  traffic control:   {state.trafficsim_url}/traffic   (docs/trafficsim.md)",
        f"  watch again:       {again}   status: {SCRIPT} status"
        + ("" if state.name == DEFAULT_NAME else f" --name {state.name}"),
        f"  stop everything:   {down}",
    ]


def sandbox_state(
    name: str,
    namespace: str | None,
    previous: SandboxState | None,
    cluster: local_cluster.ClusterState,
    owned: bool,
) -> SandboxState:
    """The running sandbox's state when it is on this cluster, else a new one."""
    if previous is not None and previous.cluster_state_dir == cluster.state_dir:
        if namespace and namespace != previous.namespace:
            say(f"the sandbox runs in namespace {previous.namespace!r}; `down` first to change it")
        return previous
    state = SandboxState(
        name=name,
        namespace=namespace or DEFAULT_NAMESPACE,
        state_dir=str(sandbox_dir(name)),
        cluster_state_dir=cluster.state_dir,
        cluster_owned=owned,
        started_at=time.time(),
    )
    state.save()
    return state


def start_traffic(state: SandboxState, cluster: local_cluster.ClusterState) -> None:
    """Start the simulator, wait for the models' first Ready replicas, then give each its traffic."""
    processes.start_trafficsim(state, cluster)
    say(f"traffic simulator running (pid {state.trafficsim_pid}, {state.trafficsim_url})")
    say("waiting for the first replicas to turn Ready (simulated cold starts of 3 to 8 s)")
    wait_for_first_replicas(state, scenario.model_names())
    plan = scenario.load_traffic(state.namespace)
    processes.set_traffic(state, plan.config)
    state.started_at = time.time()
    state.save()
    say("traffic started:")
    for note in plan.notes:
        say(f"  {note}")


def up(name: str, namespace: str | None, duration: float, interval: float) -> int:
    """Bring the sandbox up (or find it running), print what happens for `duration` s, leave it running."""
    try:
        import modelscaler  # noqa: F401  # the operator runs from this interpreter
    except ImportError:
        raise SandboxError("the modelscaler package is not installed here; run `make sandbox`") from None
    previous = SandboxState.load(name)
    cluster, owned = open_cluster(name, previous)
    state = sandbox_state(name, namespace, previous, cluster, owned)
    install_crd(cluster)
    ensure_namespace(cluster, state.namespace)
    say(f"CRD installed; namespace {state.namespace!r} ready")
    if not processes.operator_running(state):
        processes.start_operator(state, cluster)
        say(f"operator running (pid {state.operator_pid}, tick 1 s, log {state.operator_log})")
    local_cluster.kubectl_run(cluster, ["apply", "-n", state.namespace, "-f", str(scenario.MODELS_DIR)])
    say(f"applied ModelDeployments {', '.join(scenario.model_names())} from examples/sandbox/models/")
    events_since = time.time()
    if processes.trafficsim_running(state):
        say("the operator and the traffic simulator were already running")
    else:
        start_traffic(state, cluster)
        events_since = state.started_at
    if duration > 0:
        say(
            f"watching for {duration:.0f} s; times count from the traffic's start "
            "(Ctrl-C stops the watching, not the sandbox)"
        )
        try:
            watch(cluster, state.namespace, state.started_at, duration, interval, _emit, events_since)
        except KeyboardInterrupt:
            print()
            say("stopped watching")
    print("\n".join(explore_commands(state, cluster)), flush=True)
    return 0


def down(name: str) -> int:
    """Stop the simulator and operator by pid, then the cluster (or only the namespace of a reused one)."""
    state = SandboxState.load(name)
    if state is None:
        if local_cluster.state_dir_for(name).is_dir():
            local_cluster.down(name)
        else:
            say(f"no sandbox {name!r} is running")
        return 0
    for stopped in processes.stop_background(state):
        say(f"stopped the {stopped}")
    if state.cluster_owned:
        local_cluster.down(Path(state.cluster_state_dir).name)
    else:
        try:
            cluster = state.cluster()
            local_cluster.kubectl_run(
                cluster, ["delete", "namespace", state.namespace, "--wait=false"], check=False
            )
            say(f"deleted namespace {state.namespace!r}; the reused cluster {cluster.name!r} keeps running")
        except local_cluster.ClusterError:
            pass
    shutil.rmtree(state.directory, ignore_errors=True)
    say(f"sandbox {name!r} is down")
    return 0


def status(name: str) -> int:
    """Print what the sandbox runs; 1 when a part is down."""
    state = SandboxState.load(name)
    if state is None:
        say(f"no sandbox {name!r}; start one with: make sandbox")
        return 1
    try:
        cluster = state.cluster()
    except local_cluster.ClusterError as error:
        say(str(error))
        return 1
    lines, healthy = local_cluster.status_lines(cluster)
    operator_ok = processes.operator_running(state)
    sim_ok = processes.trafficsim_running(state)
    print("\n".join(lines))
    print(f"sandbox {state.name} ({state.state_dir}), namespace {state.namespace}")
    print(f"  {'operator':<24} pid {state.operator_pid:<8} {'running' if operator_ok else 'NOT RUNNING'}")
    print(
        f"  {'traffic simulator':<24} pid {state.trafficsim_pid:<8} {'running' if sim_ok else 'NOT RUNNING'}"
    )
    if healthy:
        print(local_cluster.kubectl_run(cluster, ["get", "md", "-n", state.namespace], check=False).stdout)
    return 0 if healthy and operator_ok and sim_ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="hack/sandbox.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--name", default=DEFAULT_NAME, help=f"sandbox (and cluster) name (default {DEFAULT_NAME})"
    )
    parser.add_argument(
        "--namespace", default=None, help=f"namespace of the demo deployments (default {DEFAULT_NAMESPACE})"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION_SECONDS,
        help="seconds to print what happens (up; 0: print nothing, just start)",
    )
    parser.add_argument(
        "--interval", type=float, default=DEFAULT_INTERVAL_SECONDS, help="seconds between deployment lines"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(args.name, args.namespace, args.duration, args.interval)
        if args.command == "down":
            return down(args.name)
        return status(args.name)
    except (SandboxError, *CLUSTER_ERRORS) as error:
        detail = getattr(error, "stderr", "") or ""
        print(f"error: {error}\n{detail}".rstrip(), file=sys.stderr)
        if args.command == "up":
            print(
                f"what did start keeps running; stop it with: {SCRIPT} down --name {args.name}",
                file=sys.stderr,
            )
        return 1
