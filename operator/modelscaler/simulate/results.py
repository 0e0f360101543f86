"""What a replay comes to: per-policy figures, the text table and the JSON document."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from modelscaler.engine.history import ScaleEvent
from modelscaler.simulate.replay import ReplayResult, percentile


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One diagnosis raised over a replay: condition type, reason, and when it held."""

    type: str
    reason: str
    since: float
    until: float | None


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """One policy's figures; the JSON keys are the field names.

    over_objective_pct: share of requests (percent) whose latency (wait + service)
    exceeded the objective. reversals: scale events whose direction differs from
    the previous event's. mean_wait: average queueing seconds (extra key).
    """

    policy: str
    replica_seconds: float
    oracle_ratio: float | None
    over_objective_pct: float
    p50: float
    p95: float
    p99: float
    scale_events: int
    reversals: int
    seconds_at_max: float
    peak_replicas: int
    mean_wait: float
    diagnoses: list[Diagnosis] = field(default_factory=list)


def count_reversals(events: Sequence[ScaleEvent]) -> int:
    """Scale events that change direction relative to the previous one."""
    reversals = 0
    previous = 0
    for event in events:
        direction = event.direction
        if direction and previous and direction != previous:
            reversals += 1
        if direction:
            previous = direction
    return reversals


OBJECTIVE_MEASURES = ("e2e", "ttft")


def summarize(
    result: ReplayResult,
    objective: float,
    oracle_seconds: float | None,
    diagnoses: Sequence[Diagnosis] = (),
    objective_on: str = "e2e",
    prefills: Sequence[float] = (),
) -> PolicySummary:
    """The figures of one replay against a latency objective (seconds) and the oracle's cost.

    objective_on "e2e" judges end-to-end latency (wait + service); "ttft" judges time
    to first token (wait + prefill, `prefills` per request in arrival order).
    """
    latencies = sorted(result.latencies)
    finite = [value for value in latencies if math.isfinite(value)]
    total = len(latencies)
    if objective_on == "ttft":
        judged: Sequence[float] = [
            wait + prefill for wait, prefill in zip(result.waits, prefills, strict=True)
        ]
    elif objective_on == "e2e":
        judged = latencies
    else:
        raise ValueError(f"objective_on must be one of {OBJECTIVE_MEASURES}, got {objective_on!r}")
    over = sum(1 for value in judged if value > objective)
    waits = [value for value in result.waits if math.isfinite(value)]

    def pct(q: float) -> float:
        return percentile(latencies, q) if latencies and math.isfinite(latencies[-1]) else _pct_finite(q)

    def _pct_finite(q: float) -> float:
        # Unfinished requests (the replay gave up) count as infinitely late.
        rank = math.ceil(total * q / 100.0) - 1
        return latencies[rank] if rank < len(finite) else math.inf

    ratio = result.replica_seconds / oracle_seconds if oracle_seconds else None
    return PolicySummary(
        policy=result.policy,
        replica_seconds=result.replica_seconds,
        oracle_ratio=ratio,
        over_objective_pct=100.0 * over / total if total else 0.0,
        p50=pct(50),
        p95=pct(95),
        p99=pct(99),
        scale_events=len(result.scale_events),
        reversals=count_reversals(result.scale_events),
        seconds_at_max=result.seconds_at_max,
        peak_replicas=max(result.timeline_desired, default=0),
        mean_wait=sum(waits) / len(waits) if waits else 0.0,
        diagnoses=list(diagnoses),
    )


COLUMNS = (
    ("policy", "policy", "{}"),
    ("replica-s", "replica_seconds", "{:.0f}"),
    ("x oracle", "oracle_ratio", "{:.2f}"),
    ("% > obj", "over_objective_pct", "{:.2f}"),
    ("p50 s", "p50", "{:.2f}"),
    ("p95 s", "p95", "{:.2f}"),
    ("p99 s", "p99", "{:.2f}"),
    ("events", "scale_events", "{}"),
    ("revs", "reversals", "{}"),
    ("s at max", "seconds_at_max", "{:.0f}"),
    ("peak", "peak_replicas", "{}"),
    ("diagnoses", "diagnoses", "{}"),
)


def _cell(summary: PolicySummary, key: str, fmt: str) -> str:
    value = getattr(summary, key)
    if value is None:
        return "-"
    if key == "diagnoses":
        return ",".join(sorted({diagnosis.type for diagnosis in value})) or "-"
    return fmt.format(value)


def format_table(summaries: Sequence[PolicySummary], oracle_seconds: float | None = None) -> str:
    """A fixed-width text table, one row per policy, the oracle last."""
    rows = [[header for header, _, _ in COLUMNS]]
    for summary in summaries:
        rows.append([_cell(summary, key, fmt) for _, key, fmt in COLUMNS])
    if oracle_seconds is not None:
        rows.append(["oracle", f"{oracle_seconds:.0f}", "1.00", *["-"] * (len(COLUMNS) - 3)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def to_json(summaries: Sequence[PolicySummary], extra: dict[str, object] | None = None) -> str:
    """The JSON document: {"policies": [...]} plus any run-level fields in `extra`."""

    def clean(value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    document: dict[str, object] = dict(extra or {})
    document["policies"] = [clean(asdict(summary)) for summary in summaries]
    return json.dumps(document, indent=2)
