"""Decision quality: every policy on every shared trace, plus a synthetic step, beside the oracle.

Run on demand (not a test):

    .venv/bin/python benchmarks/decision_quality.py [TRACES_DIR] [--cold-start 60] [--markdown]

TRACES_DIR defaults to ../shared/traces beside the repository. The settings are
stated in the output: one ModelDeployment for all (concurrencyTarget 8,
targetUtilization 0.7, min 1, max 200, the engine's defaults otherwise), K = 8
requests per replica, the service-time model of modelscaler.simulate.traces,
and a time-to-first-token objective (wait + prefill). The target the issue sets:
modelscaler below HPA, KEDA, Knative and Ray in replica-seconds at an equal or
lower share over objective, within 1.2x the oracle. The verdict line says
where that holds.

`modelscaler-300s` is the same engine with scaleDownDelay 300 s, the HPA's and
KEDA's default scale-down stabilization: the comparison at equal windows (the
spec's default delay is 900 s). Its own verdict line says where it meets the
target. The step is run with three seeds (Poisson arrivals): single runs of it
are sensitive to what stands when the step hits.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.diagnoses import diagnose_replay
from modelscaler.simulate.policies.modelscaler import Modelscaler
from modelscaler.simulate.policies.registry import POLICY_FACTORIES
from modelscaler.simulate.replay import replay
from modelscaler.simulate.results import PolicySummary, format_table, summarize
from modelscaler.simulate.run import RunReport, RunSettings, run_policies
from modelscaler.simulate.traces import LoadOptions, Request, ServiceTimeModel, load_trace

PARAMS = ScalingParams(min_replicas=1, max_replicas=200, concurrency_target=8, target_utilization=0.7)
REPLICA_CAPACITY = 8
OBJECTIVE_TTFT = 2.0
PEERS_TO_BEAT = ("hpa", "keda", "knative", "ray")
POLICIES = tuple(POLICY_FACTORIES)
# The HPA's (and so KEDA's) default scale-down stabilization, for the equal-window row.
EQUAL_WINDOW_DELAY = 300.0
EQUAL_WINDOW_NAME = "modelscaler-300s"
STEP_SEEDS = (0, 1, 2)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row group of the benchmark: a name and how to get its requests."""

    name: str
    source: str  # relative to the traces directory, or "synthetic"
    options: LoadOptions = field(default_factory=LoadOptions)


SCENARIOS = (
    Scenario("azure-conv", "azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
    Scenario("mooncake-conv", "mooncake-fast25/conversation_trace.jsonl"),
    Scenario("mooncake-synthetic", "mooncake-fast25/synthetic_trace.jsonl"),
    Scenario(
        "servegen-r1-peak",
        "servegen/servegen_rate_traces.tar.gz",
        LoadOptions(servegen_client="reason/deepseek-r1"),
    ),
    Scenario(
        "servegen-bursty-client",
        "servegen/servegen_rate_traces.tar.gz",
        LoadOptions(servegen_client="language/m-large/chunk-1"),
    ),
)


def step_trace(seed: int = 0) -> list[Request]:
    """2 -> 8 needed replicas: 10 min at 2 replicas' load, 20 min at 8, 20 min back at 2.

    Requests of 2 s (plus 0.2 s prefill) arrive as a Poisson process whose rate
    makes the concurrency 2 x and 8 x the per-replica target (8 x 0.7).
    """
    rng = random.Random(seed)
    service, prefill = 2.0, 0.2
    per_replica = PARAMS.capacity
    phases = ((600.0, 2), (1200.0, 8), (1200.0, 2))
    requests: list[Request] = []
    clock = start = 0.0
    for length, replicas in phases:
        rate = replicas * per_replica / service
        while True:
            clock += rng.expovariate(rate)
            if clock >= start + length:
                clock = start + length
                break
            requests.append(Request(clock, service, prefill))
        start += length
    return requests


def verdict(summaries: Sequence[PolicySummary], ours_name: str = "modelscaler") -> str:
    """Where `ours_name` meets the target on this scenario, in words."""
    by_name = {summary.policy: summary for summary in summaries}
    ours = by_name[ours_name]
    notes = []
    for peer in PEERS_TO_BEAT:
        other = by_name[peer]
        cheaper = ours.replica_seconds < other.replica_seconds
        as_good = ours.over_objective_pct <= other.over_objective_pct + 1e-9
        if not (cheaper and as_good):
            what = []
            if not cheaper:
                what.append(f"{ours.replica_seconds / other.replica_seconds:.2f}x its cost")
            if not as_good:
                what.append(f"+{ours.over_objective_pct - other.over_objective_pct:.2f} pts over objective")
            notes.append(f"loses to {peer} ({', '.join(what)})")
    ratio = ours.oracle_ratio
    if ratio is not None and ratio > 1.2:
        notes.append(f"{ratio:.2f}x the oracle (target 1.2x)")
    return "target met" if not notes else "; ".join(notes)


def run_scenario(requests: list[Request], settings: RunSettings) -> RunReport:
    """All policies on one scenario, plus the engine at the equal-window delay (after `modelscaler`)."""
    report = run_policies(requests, PARAMS, POLICIES, settings)
    equal_params = replace(PARAMS, scale_down_delay=EQUAL_WINDOW_DELAY)
    result = replay(requests, Modelscaler(equal_params, name=EQUAL_WINDOW_NAME), report.model)
    diagnoses = diagnose_replay(result, equal_params, settings.objective) if settings.diagnose else []
    equal = summarize(
        result,
        settings.objective,
        report.oracle.replica_seconds,
        diagnoses,
        settings.objective_on,
        [request.prefill for request in requests],
    )
    at = [summary.policy for summary in report.summaries].index("modelscaler") + 1
    report.summaries.insert(at, equal)
    report.results.insert(at, result)
    return report


def markdown_table(summaries: Sequence[PolicySummary], oracle_seconds: float) -> str:
    """The same figures as a Markdown table (for benchmarks/README.md)."""
    header = (
        "| policy | replica-s | x oracle | % TTFT > obj | p50 s | p95 s | p99 s | events | reversals | peak |"
    )
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for s in summaries:
        ratio = f"{s.oracle_ratio:.2f}" if s.oracle_ratio is not None else "-"
        lines.append(
            f"| {s.policy} | {s.replica_seconds:.0f} | {ratio} | {s.over_objective_pct:.2f} | {s.p50:.2f} | "
            f"{s.p95:.2f} | {s.p99:.2f} | {s.scale_events} | {s.reversals} | {s.peak_replicas} |"
        )
    lines.append(f"| oracle | {oracle_seconds:.0f} | 1.00 | - | - | - | - | - | - | - |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs every scenario and prints the tables; 2 when the traces directory is missing."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "traces",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "traces",
        help="the shared traces directory (default: ../shared/traces beside the repository)",
    )
    parser.add_argument("--cold-start", type=float, default=60.0, help="seconds to Ready (default 60)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--only", action="append", help="run only these scenarios (repeatable)")
    args = parser.parse_args(argv)
    if not args.traces.is_dir():
        print(
            f"decision_quality: no traces directory at {args.traces}; pass the shared traces directory "
            "(the one holding azure-llm-2023/, mooncake-fast25/, servegen/)",
            file=sys.stderr,
        )
        return 2
    settings = RunSettings(
        replica_capacity=REPLICA_CAPACITY,
        cold_start=args.cold_start,
        objective=OBJECTIVE_TTFT,
        objective_on="ttft",
        diagnose=True,
    )
    service = ServiceTimeModel()
    print(
        f"settings: concurrencyTarget {PARAMS.concurrency_target:g} x targetUtilization "
        f"{PARAMS.target_utilization:g}, min {PARAMS.min_replicas}, max {PARAMS.max_replicas}, "
        f"scaleDownDelay {PARAMS.scale_down_delay:g} s ({EQUAL_WINDOW_NAME}: {EQUAL_WINDOW_DELAY:g} s); "
        f"engine backlog_drain_time {PARAMS.backlog_drain_time:g} s, scale_up_tolerance "
        f"{PARAMS.scale_up_tolerance:g}; K = {REPLICA_CAPACITY}; cold start "
        f"{args.cold_start:g} s; objective TTFT (wait + prefill) <= {OBJECTIVE_TTFT:g} s; "
        f"{service.describe()}"
    )
    scenarios: list[tuple[str, list[Request]]] = []
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        path = args.traces / scenario.source
        if not path.is_file():
            print(f"skipping {scenario.name}: {path} is missing", file=sys.stderr)
            continue
        scenarios.append((scenario.name, load_trace(path, replace(scenario.options, service=service))))
    for seed in STEP_SEEDS:
        name = "step-2-to-8" if seed == 0 else f"step-2-to-8-seed{seed}"
        if not args.only or name in args.only:
            scenarios.append((name, step_trace(seed)))
    for name, requests in scenarios:
        started = time.perf_counter()
        report = run_scenario(requests, settings)
        elapsed = time.perf_counter() - started
        span = requests[-1].arrival
        print(
            f"\n## {name}: {len(requests)} requests over {span:.0f} s "
            f"({len(requests) / span:.1f}/s), replicas at t=0: {report.model.initial_replicas}; "
            f"replayed in {elapsed:.1f} s"
        )
        if args.markdown:
            print(markdown_table(report.summaries, report.oracle.replica_seconds))
        else:
            print(format_table(report.summaries, report.oracle.replica_seconds))
        print(f"verdict: {verdict(report.summaries)}")
        equal_verdict = verdict(report.summaries, EQUAL_WINDOW_NAME)
        print(f"verdict at equal windows ({EQUAL_WINDOW_NAME}): {equal_verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
