"""The sandbox (`make sandbox`) end to end, and the pure parts of it.

The end-to-end test runs `hack/sandbox.py up` as a user would, as a subprocess, on the session's
cluster (MODELSCALER_CLUSTER, so that no second control plane starts) in a namespace of its own,
with its state in a temporary cache: the real operator, traffic simulator, kube-apiserver, kwok and
Prometheus. It reads what `up` printed and what `kubectl get md` shows, then checks that `down`
leaves no process behind. The other tests check the traffic resolution and the live lines without
a cluster.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from hack import cluster as local_cluster
from hack.sandbox import scenario
from hack.sandbox.watch import EventFeed, clock, deployment_line, event_lines
from tests.support.cluster import Cluster, unique_namespace_name

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "hack" / "sandbox.py"
WATCH_SECONDS = 60


def run_sandbox(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`hack/sandbox.py ARGS` with this interpreter, stdout and stderr together."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )


def processes_mentioning(marker: str) -> list[str]:
    """Command lines of the live processes whose arguments contain `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not local_cluster.pid_alive(int(proc.name)):
            continue
        argv = local_cluster.process_cmdline(int(proc.name))
        if any(marker in part for part in argv):
            found.append(" ".join(argv))
    return found


def test_up_shows_scaling_and_the_commands_then_down_leaves_no_process(
    cluster: Cluster, tmp_path: Path
) -> None:
    name = f"t-sandbox-{os.getpid()}"
    namespace = unique_namespace_name("sandbox")
    cache = tmp_path / "cache"
    env = {**os.environ, "MODELSCALER_CLUSTER": cluster.state.state_dir, "MODELSCALER_CACHE": str(cache)}
    common = ["--name", name]
    state_file = cache / "sandbox" / name / "state.json"
    try:
        started = run_sandbox(
            "up", *common, "--namespace", namespace, "--duration", str(WATCH_SECONDS), env=env, timeout=300
        )
        output = started.stdout
        assert started.returncode == 0, output
        print(output)

        # Replicas rose under load: a ScaledUp Event line, with the decision's reason in figures below it.
        lines = output.splitlines()
        scaled_up = [
            i
            for i, line in enumerate(lines)
            if re.fullmatch(r"\[\d+:\d\d\] (chat|llama|summarize)\s+ScaledUp", line)
        ]
        assert scaled_up, output
        assert re.match(r" {9}\S.*\d", lines[scaled_up[0] + 1]), output
        # A live line per deployment.
        for model in scenario.model_names():
            assert re.search(rf"^\[\d+:\d\d\] {model}\s+ready\s+\d+/\d+", output, re.MULTILINE), model
        # The commands to explore, pointing at this sandbox.
        assert f"export KUBECONFIG={cluster.kubeconfig}" in output
        assert f"kubectl get md -n {namespace}" in output
        assert f"kubectl describe md chat -n {namespace}" in output
        assert f"Prometheus:        {cluster.state.prometheus_url}" in output
        assert re.search(r"operator /metrics: http://127\.0\.0\.1:\d+/metrics", output)
        assert f"down --name {name}" in output

        listing = cluster.kubectl("get", "md", "-n", namespace).stdout
        rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
        assert set(rows) == set(scenario.model_names()), listing
        for row in rows.values():
            assert re.fullmatch(r"\d+/\d+", row[1]), listing  # READY ready/desired
            assert row[4] in {"Stable", "Burst", "Holding"}, listing  # MODE

        state = json.loads(state_file.read_text())
        pids = [state["operator_pid"], state["trafficsim_pid"]]
        assert all(local_cluster.pid_alive(pid) for pid in pids), "up leaves the sandbox running"
    finally:
        stopped = run_sandbox("down", *common, env=env, timeout=120)
    assert stopped.returncode == 0, stopped.stdout
    assert not any(local_cluster.pid_alive(pid) for pid in pids), stopped.stdout
    assert processes_mentioning(str(cache)) == []
    assert processes_mentioning(f"sandbox-{name}") == []
    assert list(Path(cluster.state.file_sd_dir).glob(f"sandbox-{name}_*.json")) == []
    assert not state_file.exists()
    # The reused cluster keeps running; only the sandbox's namespace goes.
    assert local_cluster.is_healthy(cluster.state)
    phase = cluster.kubectl("get", "namespace", namespace, "-o", "jsonpath={.status.phase}", check=False)
    assert phase.returncode != 0 or phase.stdout == "Terminating"


def test_a_missing_trace_falls_back_to_a_step_pattern_and_says_so(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "traffic": [
            {
                "namespace": "demo",
                "name": "llama",
                "profile": {
                    "engine": "vllm",
                    "trace": {"path": "$MODELSCALER_TRACES/none.csv", "compress": 15},
                },
            },
            {"namespace": "demo", "name": "chat", "profile": {"rate": 2}},
        ]
    }
    plan = scenario.resolve_traffic(document, "elsewhere", tmp_path)
    llama, chat = plan.config["traffic"]
    assert {llama["namespace"], chat["namespace"]} == {"elsewhere"}
    assert "trace" not in llama["profile"]
    steps, period = llama["profile"]["steps"], llama["profile"]["period"]
    assert period == 240.0  # the trace's hour at 15x
    mean_rate = sum(rate for _, rate in steps) / len(steps)
    assert abs(mean_rate - scenario.FALLBACK_MEAN_RATE * 15) < 1.0
    assert any(str(tmp_path / "none.csv") in note and "not found" in note for note in plan.notes)
    assert document["traffic"][0]["profile"]["trace"]["path"] == "$MODELSCALER_TRACES/none.csv"


def test_a_present_trace_gets_an_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "azure").mkdir()
    trace = tmp_path / "azure" / "trace.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    document = {
        "traffic": [
            {
                "namespace": "demo",
                "name": "llama",
                "profile": {"trace": {"path": "${MODELSCALER_TRACES}/azure/trace.csv"}},
            }
        ]
    }
    plan = scenario.resolve_traffic(document, "demo", tmp_path)
    assert plan.config["traffic"][0]["profile"]["trace"]["path"] == str(trace)
    assert plan.notes == ["llama: generic, trace trace.csv at 1x"]


def test_the_committed_traffic_names_exactly_the_sandbox_models() -> None:
    plan = scenario.load_traffic("demo")
    assert sorted(entry["name"] for entry in plan.config["traffic"]) == sorted(scenario.model_names())


def test_deployment_line_shows_replicas_concurrency_mode_and_diagnosis() -> None:
    md = {
        "metadata": {"name": "chat"},
        "status": {
            "readyReplicas": 3,
            "desiredReplicas": 5,
            "startingReplicas": 2,
            "concurrency": {"stable": 7.94, "target": 1.6},
            "latency": {"p95": 0.512},
            "mode": "Burst",
            "diagnosis": "Healthy",
        },
    }
    line = deployment_line(md, 95)
    assert line.startswith("[1:35] chat ")
    for part in (
        "ready   3/5",
        "(+2 starting)",
        "concurrency    7.9",
        "target 1.6/replica",
        "p95  0.51s",
        "Burst",
    ):
        assert part in line, line
    assert line.endswith("Healthy")
    assert "ready   -/-" in deployment_line({"metadata": {"name": "new"}}, 0)


def event(
    uid: str, count: int, when: str, reason: str = "ScaledUp", kind: str = "ModelDeployment"
) -> dict[str, object]:
    return {
        "metadata": {"uid": uid},
        "involvedObject": {"kind": kind, "name": "chat"},
        "type": "Normal",
        "reason": reason,
        "message": "1 -> 5: burst arrival concurrency 7 over 2 s / capacity 1.6 -> 5",
        "count": count,
        "lastTimestamp": when,
    }


def test_event_feed_prints_new_events_and_repeats_once_each() -> None:
    since = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    feed = EventFeed(since=since)
    old = event("a", 1, "2027-01-15T07:59:00Z")
    first = event("b", 1, "2027-01-15T08:00:05Z")
    pod_event = event("c", 1, "2027-01-15T08:00:06Z", kind="Pod")
    assert feed.fresh([old, first, pod_event]) == [first]
    assert feed.fresh([old, first, pod_event]) == []
    repeated = event("b", 2, "2027-01-15T08:00:09Z")
    assert feed.fresh([repeated]) == [repeated]

    lines = event_lines(repeated, 9, width=60, condition=None)
    assert lines[0] == "[0:09] chat       ScaledUp (x2)"
    assert " ".join(part.strip() for part in lines[1:]).startswith("1 -> 5: burst arrival")
    warning = {**first, "type": "Warning", "reason": "AtMaxReplicas"}
    assert event_lines(warning, 150, 60, "CapacityExhausted")[0].endswith(
        "WARNING AtMaxReplicas -> condition CapacityExhausted=True"
    )
    assert clock(-3) == "0:00"
