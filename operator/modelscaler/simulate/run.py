"""One what-if run: every chosen policy on the same requests and cluster model, plus the oracle."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.diagnoses import diagnose_replay
from modelscaler.simulate.oracle import OracleResult, oracle
from modelscaler.simulate.policies.registry import build_policy
from modelscaler.simulate.progress import ProgressBar
from modelscaler.simulate.replay import ClusterModel, ReplayResult, replay
from modelscaler.simulate.results import PolicySummary, summarize
from modelscaler.simulate.traces import Request


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The cluster model and objective of a run (see docs/simulator.md).

    replica_capacity None means ceil(concurrencyTarget); initial_replicas None
    means a warm start sized for the first stable window's arrivals.
    """

    replica_capacity: int | None = None
    cold_start: float = 60.0
    objective: float = 5.0
    objective_on: str = "e2e"  # "e2e" (wait + service) or "ttft" (wait + prefill)
    scrape_interval: float = 1.0
    initial_replicas: int | None = None
    diagnose: bool = True


@dataclass(frozen=True, slots=True)
class RunReport:
    """The summaries (policy order as asked), the raw replays and the oracle."""

    summaries: list[PolicySummary]
    results: list[ReplayResult]
    oracle: OracleResult
    model: ClusterModel


def warm_start(requests: Sequence[Request], params: ScalingParams) -> int:
    """Replicas Ready at t=0: what the first stable window's arrivals need at the target, within [min, max].

    Every policy and the oracle start from this count, so that none pays for a
    cold start the trace's first second would force on all of them.
    """
    if params.initial_replicas is not None:
        return max(params.min_replicas, min(params.max_replicas, params.initial_replicas))
    window = params.stable_window
    early = [r for r in requests if r.arrival < window]
    demand = sum(min(r.service, window - r.arrival) for r in early) / window
    wanted = math.ceil(demand / params.capacity - 1e-9)
    return max(params.min_replicas, 1, min(params.max_replicas, wanted))


def cluster_model(requests: Sequence[Request], params: ScalingParams, settings: RunSettings) -> ClusterModel:
    """The ClusterModel a run uses, with defaults resolved."""
    capacity = settings.replica_capacity or max(1, math.ceil(params.concurrency_target - 1e-9))
    initial = (
        settings.initial_replicas if settings.initial_replicas is not None else warm_start(requests, params)
    )
    return ClusterModel(
        replica_capacity=capacity,
        cold_start=settings.cold_start,
        scrape_interval=settings.scrape_interval,
        initial_replicas=max(initial, params.min_replicas),
        min_replicas=params.min_replicas,
        max_replicas=params.max_replicas,
        stable_window=params.stable_window,
        sample_latency=settings.objective_on,
    )


def run_policies(
    requests: Sequence[Request],
    params: ScalingParams,
    policy_names: Sequence[str],
    settings: RunSettings,
    progress: ProgressBar | None = None,
) -> RunReport:
    """Replays every named policy and the oracle; returns their summaries in the order asked."""
    if not requests:
        raise ValueError("no requests to replay")
    model = cluster_model(requests, params, settings)
    policies = [build_policy(name, params) for name in policy_names]
    best = oracle(
        requests,
        model.replica_capacity,
        model.cold_start,
        initial_replicas=model.initial_replicas,
        min_replicas=params.min_replicas,
    )
    results: list[ReplayResult] = []
    summaries: list[PolicySummary] = []
    for policy in policies:
        if progress is not None:
            progress.start(policy.name)
        result = replay(requests, policy, model, progress.update if progress is not None else None)
        diagnoses = diagnose_replay(result, params, settings.objective) if settings.diagnose else []
        results.append(result)
        summaries.append(
            summarize(
                result,
                settings.objective,
                best.replica_seconds,
                diagnoses,
                settings.objective_on,
                [request.prefill for request in requests],
            )
        )
        if progress is not None:
            progress.finish_step()
    return RunReport(summaries, results, best, model)
