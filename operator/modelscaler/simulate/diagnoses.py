"""The diagnosis rules over a replay: the same `diagnose()` the operator runs, fed the replay's Samples.

The rules run every DIAGNOSE_EVERY seconds of trace time on the samples and
scale events so far; each time a condition is True it extends an interval, and
each interval becomes one Diagnosis (type, reason, since, until).
"""

from __future__ import annotations

from modelscaler.engine.diagnosis import DiagnosisInput, DiagnosisParams, DiagnosisState, diagnose
from modelscaler.engine.types import ScalingParams
from modelscaler.simulate.replay import ReplayResult
from modelscaler.simulate.results import Diagnosis

DIAGNOSE_EVERY = 60.0
# The longest look-back any rule uses (DiagnosisParams' windows are at most an hour).
HISTORY_SECONDS = 3600.0


def diagnose_replay(result: ReplayResult, params: ScalingParams, objective: float) -> list[Diagnosis]:
    """The problem conditions raised over the replay, one entry per stretch of time each held.

    `objective` is the latency objective (seconds at p95) the rules judge latency by.
    """
    dparams = DiagnosisParams(latency_objective_seconds=objective)
    samples = result.samples
    if not samples:
        return []
    state = DiagnosisState()
    open_since: dict[str, tuple[str, float, float]] = {}  # type -> (reason, since, last seen)
    found: list[Diagnosis] = []
    sample_start = sample_end = 0
    event_start = event_end = 0
    now = DIAGNOSE_EVERY
    last_time = samples[-1].time
    while now <= last_time + DIAGNOSE_EVERY:
        while sample_end < len(samples) and samples[sample_end].time <= now:
            sample_end += 1
        while event_end < len(result.scale_events) and result.scale_events[event_end].time <= now:
            event_end += 1
        while sample_start < sample_end and samples[sample_start].time < now - HISTORY_SECONDS:
            sample_start += 1
        events = result.scale_events
        while event_start < event_end and events[event_start].time < now - HISTORY_SECONDS:
            event_start += 1
        history = DiagnosisInput(
            samples=samples[sample_start:sample_end], scale_events=events[event_start:event_end]
        )
        findings, state = diagnose(history, params, dparams, state, now)
        problems = {finding.type.value: finding for finding in findings if finding.is_problem}
        for kind, (reason, since, seen) in list(open_since.items()):
            if kind not in problems:
                found.append(Diagnosis(kind, reason, since, seen))
                del open_since[kind]
        for kind, finding in problems.items():
            if kind in open_since:
                reason, since, _ = open_since[kind]
                open_since[kind] = (reason, since, now)
            else:
                since = finding.since if finding.since is not None else now
                open_since[kind] = (finding.reason, since, now)
        now += DIAGNOSE_EVERY
    for kind, (reason, since, seen) in open_since.items():
        found.append(Diagnosis(kind, reason, since, seen))
    found.sort(key=lambda diagnosis: (diagnosis.since, diagnosis.type))
    return found
