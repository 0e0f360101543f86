"""FrequentRestarts: container restarts of the current pod template over the threshold per window."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from modelscaler.engine.diagnosis.context import Context
from modelscaler.engine.diagnosis.model import ConditionType, Finding, Recommendation
from modelscaler.engine.diagnosis.rules.base import absent, problem
from modelscaler.engine.diagnosis.text import larger_memory, memory_quantity, span, whole_up
from modelscaler.engine.history import RestartEvent

KIND = ConditionType.FREQUENT_RESTARTS
OOM_KILLED = "OOMKilled"
LIVENESS = "LivenessProbeFailing"
CRASH_DURING_LOAD = "CrashDuringLoad"
CRASHED = "ContainerCrashing"
# When causes tie, the one whose fix is the most specific wins.
PRECEDENCE = (OOM_KILLED, LIVENESS, CRASH_DURING_LOAD, CRASHED)
SIGKILL_EXIT = 137  # 128 + SIGKILL: the kernel's OOM killer, when the reason is not set


def cause(restart: RestartEvent) -> str:
    """Why one container restarted.

    An explicit OOMKilled reason first; then a liveness-probe kill (whose SIGKILL after
    the grace period also exits 137); then exit 137; then a crash before the pod was
    ever Ready (model loading); anything else is a crash.
    """
    if restart.reason == OOM_KILLED:
        return OOM_KILLED
    if restart.liveness_failed:
        return LIVENESS
    if restart.exit_code == SIGKILL_EXIT:
        return OOM_KILLED
    if not restart.was_ready:
        return CRASH_DURING_LOAD
    return CRASHED


def counted(ctx: Context) -> list[RestartEvent]:
    """Restarts within the window, leaving out pods of an older template (replaced by a rolling update)."""
    current = ctx.history.current_template_hash
    return [
        r
        for r in ctx.restarts
        if r.time > ctx.now - ctx.dparams.restart_window
        and (current is None or r.pod_template_hash is None or r.pod_template_hash == current)
    ]


def main_container(restarts: Sequence[RestartEvent]) -> str:
    """The container that restarted most."""
    return Counter(r.container for r in restarts).most_common(1)[0][0]


def fix(ctx: Context, reason: str, restarts: Sequence[RestartEvent], evidence: str) -> Recommendation | None:
    """The setting that addresses the dominant cause, when it is a setting."""
    path = f"template.spec.containers[{main_container(restarts)}]"
    if reason == OOM_KILLED:
        limit = ctx.history.memory_limit_bytes
        factor = ctx.dparams.oom_memory_factor
        return Recommendation(
            f"{path}.resources.limits.memory",
            memory_quantity(limit) if limit else "unknown",
            larger_memory(limit, factor) if limit else f"{factor:g} x the current limit",
            f"the container was killed for memory: give it {factor:g} x the limit, or a larger instance",
            evidence,
        )
    if reason == LIVENESS:
        threshold = ctx.history.liveness_failure_threshold
        factor = ctx.dparams.liveness_threshold_factor
        return Recommendation(
            f"{path}.livenessProbe.failureThreshold",
            str(threshold) if threshold else "unknown",
            str(whole_up(threshold * factor)) if threshold else f"{factor:g} x the current threshold",
            "the kubelet killed a busy server: tolerate longer probe failures (or raise timeoutSeconds; "
            "use a startupProbe for model loading)",
            evidence,
        )
    return None


def evaluate(ctx: Context) -> Finding:
    """True when at least restart_threshold restarts of the current template fell in restart_window."""
    dparams = ctx.dparams
    restarts = counted(ctx)
    window = span(dparams.restart_window)
    if len(restarts) < dparams.restart_threshold:
        return absent(
            KIND,
            "RestartsBelowThreshold",
            f"{len(restarts)} container restarts in the last {window} "
            f"(threshold {dparams.restart_threshold})",
        )
    causes = Counter(cause(r) for r in restarts)
    reason = max(PRECEDENCE, key=lambda c: (causes[c], -PRECEDENCE.index(c)))
    breakdown = ", ".join(f"{causes[c]} {c}" for c in PRECEDENCE if causes[c])
    pods = sorted({r.pod for r in restarts})
    evidence = (
        f"{len(restarts)} container restarts in the last {window} (threshold {dparams.restart_threshold}): "
        f"{breakdown}; last {span(ctx.now - restarts[-1].time)} ago; pods {', '.join(pods[:3])}"
        + (f" and {len(pods) - 3} more" if len(pods) > 3 else "")
    )
    if reason == CRASH_DURING_LOAD:
        evidence += "; the server exits before it is ever Ready: fix the model load (kubectl logs --previous)"
    recommendation = fix(ctx, reason, [r for r in restarts if cause(r) == reason], evidence)
    return problem(KIND, reason, evidence, recommendation)
