"""The entry point: every rule over one deployment's history, with hysteresis, and the one-word summary."""

from __future__ import annotations

from collections.abc import Iterable

from modelscaler.engine.diagnosis.context import Context
from modelscaler.engine.diagnosis.model import (
    ConditionType,
    DiagnosisInput,
    DiagnosisParams,
    Finding,
    Recommendation,
)
from modelscaler.engine.diagnosis.rules import (
    async_queue,
    capacity,
    cold_start,
    concurrency_target,
    kv_cache,
    overprovisioned,
    restarts,
    scale_down,
    thrashing,
)
from modelscaler.engine.diagnosis.rules.base import Rule
from modelscaler.engine.diagnosis.state import ActiveCondition, DiagnosisState, settle
from modelscaler.engine.types import ScalingParams

HEALTHY = "Healthy"

RULES: dict[ConditionType, Rule] = {
    ConditionType.FREQUENT_RESTARTS: restarts.evaluate,
    ConditionType.CAPACITY_EXHAUSTED: capacity.evaluate,
    ConditionType.KV_CACHE_SATURATED: kv_cache.evaluate,
    ConditionType.CONCURRENCY_TARGET_TOO_HIGH: concurrency_target.evaluate,
    ConditionType.ASYNC_BACKPRESSURE: async_queue.evaluate,
    ConditionType.COLD_START_DELAY: cold_start.evaluate,
    ConditionType.THRASHING: thrashing.evaluate,
    ConditionType.SCALE_DOWN_TOO_FAST: scale_down.evaluate,
    ConditionType.OVERPROVISIONED: overprovisioned.evaluate,
}


def diagnose(
    history: DiagnosisInput,
    params: ScalingParams,
    dparams: DiagnosisParams,
    previous: DiagnosisState,
    now: float,
) -> tuple[list[Finding], DiagnosisState]:
    """Runs every rule at `now`: one finding per condition type (in severity order) and the new state.

    Pure: the result depends only on the arguments. `previous` is the state returned
    by the last call (DiagnosisState() at first, or DiagnosisState.from_dict(stored)).
    """
    ctx = Context.build(history, params, dparams, now)
    findings: list[Finding] = []
    active: dict[ConditionType, ActiveCondition] = {}
    for kind in ConditionType:
        finding, remembered = settle(RULES[kind](ctx), previous.active.get(kind), now, dparams.clear_after)
        findings.append(finding)
        if remembered is not None:
            active[kind] = remembered
    return findings, DiagnosisState(active)


def recommendations(findings: Iterable[Finding]) -> list[Recommendation]:
    """status.recommendations: the True findings' recommendations, one per setting.

    When two problems recommend the same setting, the more severe one (earlier in
    ConditionType's order) speaks for it.
    """
    chosen: dict[str, Recommendation] = {}
    for finding in findings:
        if finding.is_problem:
            for recommendation in finding.recommendations:
                chosen.setdefault(recommendation.setting, recommendation)
    return list(chosen.values())


def summary(findings: Iterable[Finding]) -> str:
    """The DIAGNOSIS printer column: the reason of the first True condition, or "Healthy"."""
    return next((f.reason for f in findings if f.is_problem), HEALTHY)
