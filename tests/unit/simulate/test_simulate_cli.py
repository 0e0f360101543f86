"""`modelscaler simulate` end to end on a small synthetic trace, and its errors."""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path

import pytest

from modelscaler.cli import main as modelscaler_main
from modelscaler.engine.history import ScaleEvent
from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.cli import main
from modelscaler.simulate.progress import ProgressBar
from modelscaler.simulate.results import count_reversals
from modelscaler.simulate.run import RunSettings, run_policies
from modelscaler.simulate.traces import Request

SPEC = """\
apiVersion: serving.modelscaler.io/v1alpha1
kind: ModelDeployment
metadata:
  name: demo
spec:
  template:
    spec:
      containers:
        - name: server
          image: example/model:1
          ports: [{name: http, containerPort: 8000}]
  autoscaling:
    minReplicas: 1
    maxReplicas: {max_replicas}
    concurrencyTarget: 4
    scaleDownDelay: 120s
"""

KEYS = {
    "policy",
    "replica_seconds",
    "oracle_ratio",
    "over_objective_pct",
    "p50",
    "p95",
    "p99",
    "scale_events",
    "reversals",
    "seconds_at_max",
    "diagnoses",
}


def _step_trace(path: Path) -> Path:
    """Two requests/s for 5 minutes, then eight/s for 5 minutes, two-second requests."""
    rng = random.Random(5)
    lines, clock = [], 0.0
    while clock < 600:
        rate = 2.0 if clock < 300 else 8.0
        clock += rng.expovariate(rate)
        lines.append(f"{clock:.3f},2.0")
    path.write_text("timestamp,service_seconds\n" + "\n".join(lines) + "\n")
    return path


def _spec(path: Path, max_replicas: int = 20) -> Path:
    path.write_text(SPEC.replace("{max_replicas}", str(max_replicas)))
    return path


def test_simulate_writes_the_table_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace, spec = _step_trace(tmp_path / "step.csv"), _spec(tmp_path / "md.yaml")
    out_json, out_png = tmp_path / "out.json", tmp_path / "out.png"
    argv = ["--trace", str(trace), "--spec", str(spec), "--cold-start", "30s", "--objective", "4s"]
    argv += ["--json", str(out_json), "--plot", str(out_png), "--policy", "all"]
    assert modelscaler_main(["simulate", *argv]) == 0
    printed = capsys.readouterr().out
    assert "oracle" in printed
    assert "knative" in printed
    document = json.loads(out_json.read_text())
    policies = document["policies"]
    assert [p["policy"] for p in policies][:2] == ["modelscaler", "modelscaler-queue"]
    for entry in policies:
        assert set(entry) >= KEYS
        assert entry["replica_seconds"] > 0
        assert entry["oracle_ratio"] == pytest.approx(
            entry["replica_seconds"] / document["oracle_replica_seconds"]
        )
        assert 0 <= entry["over_objective_pct"] <= 100
        assert entry["p50"] <= entry["p95"] <= entry["p99"]
        assert entry["scale_events"] >= 1  # the step needs more than the two replicas it starts with
        for diagnosis in entry["diagnoses"]:
            assert set(diagnosis) == {"type", "reason", "since", "until"}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_low_max_shows_time_at_max(tmp_path: Path) -> None:
    trace, spec = _step_trace(tmp_path / "step.csv"), _spec(tmp_path / "md.yaml", max_replicas=2)
    out_json = tmp_path / "out.json"
    argv = ["--trace", str(trace), "--spec", str(spec), "--policy", "hpa", "--json", str(out_json)]
    assert main([*argv, "--objective-on", "ttft", "--no-diagnose"]) == 0
    (hpa,) = json.loads(out_json.read_text())["policies"]
    assert hpa["seconds_at_max"] > 250
    assert hpa["over_objective_pct"] > 10


def test_a_bad_spec_is_refused_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _step_trace(tmp_path / "step.csv")
    spec = tmp_path / "md.yaml"
    spec.write_text(
        SPEC.replace("{max_replicas}", "20").replace("concurrencyTarget: 4", "concurrencyTarget: -1")
    )
    assert main(["--trace", str(trace), "--spec", str(spec)]) == 2
    assert "spec.autoscaling.concurrencyTarget" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policy", "nope"], "unknown policy 'nope'"),
        (["--trace-missing"], None),
    ],
)
def test_bad_options_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str | None
) -> None:
    trace, spec = _step_trace(tmp_path / "step.csv"), _spec(tmp_path / "md.yaml")
    argv = ["--trace", str(trace), "--spec", str(spec), *extra]
    if message is None:
        with pytest.raises(SystemExit):
            main(argv)
    else:
        assert main(argv) == 2
        assert message in capsys.readouterr().err


def test_a_missing_trace_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--trace", str(tmp_path / "none.csv"), "--spec", str(_spec(tmp_path / "md.yaml"))]) == 2
    assert "no such trace file" in capsys.readouterr().err


def test_reversals_count_direction_changes_only() -> None:
    events = [ScaleEvent(0, 1, 3), ScaleEvent(10, 3, 5), ScaleEvent(20, 5, 2), ScaleEvent(30, 2, 4)]
    assert count_reversals(events) == 2
    assert count_reversals([]) == 0
    assert math.isfinite(float(count_reversals(events[:1])))


def test_the_diagnosis_rules_see_a_thrashing_policy_over_a_replay() -> None:
    # Two minutes at 20 requests/s, two at 2/s, for an hour: Knative (no scale-down delay) flaps,
    # the HPA's 300-s stabilization outlasts the 240-s period and holds.
    rng = random.Random(1)
    requests, clock = [], 0.0
    while clock < 3600:
        clock += rng.expovariate(20.0 if clock % 240 < 120 else 2.0)
        requests.append(Request(clock, 2.0))
    params = ScalingParams(min_replicas=1, max_replicas=50, concurrency_target=4, target_utilization=0.7)
    settings = RunSettings(replica_capacity=4, cold_start=30, objective=5)
    knative, hpa = run_policies(requests, params, ["knative", "hpa"], settings).summaries
    thrashing = [d for d in knative.diagnoses if d.type == "Thrashing"]
    assert thrashing
    assert all(d.until is not None and d.since <= d.until for d in knative.diagnoses)
    assert knative.reversals > 10
    assert hpa.reversals == 0
    assert not [d for d in hpa.diagnoses if d.type == "Thrashing"]


def test_the_progress_bar_draws_on_a_forced_stream() -> None:
    stream = io.StringIO()
    bar = ProgressBar(2, stream=stream, force=True)
    bar.start("hpa")
    bar.update(0.5)
    bar.finish_step()
    bar.close()
    text = stream.getvalue()
    assert "hpa" in text
    assert " 25%" in text
    assert " 50%" in text
    assert text.endswith("\n")
