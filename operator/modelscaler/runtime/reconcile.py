"""One deployment, one tick: from what was observed to what to write. Pure.

`reconcile()` reads the ModelDeployment, its pods, its Deployment, the signals and
the remembered state; it runs the engine and the diagnosis and returns a `Plan`
(scale to N, the whole new status, the Events to post) plus the next state. The
control loop does the I/O. Everything here is testable with plain values.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from modelscaler.actuator.pods import PodSummary
from modelscaler.api.conditions import (
    ABLE_TO_SCALE,
    READY,
    SCALING_ACTIVE,
    SCALING_LIMITED,
    Condition,
    diagnosis_summary,
    find_condition,
    set_condition,
)
from modelscaler.api.resource import ModelDeployment
from modelscaler.api.status import HistoryEntry, LastDecision, ModelDeploymentStatus
from modelscaler.api.timestamps import rfc3339
from modelscaler.engine.decide import decide
from modelscaler.engine.diagnosis import DiagnosisInput, DiagnosisState, Finding, diagnose, recommendations
from modelscaler.engine.diagnosis.spec import params_from_diagnosis_spec
from modelscaler.engine.history import PodStart, RestartEvent, Sample, ScaleEvent
from modelscaler.engine.params import params_from_spec
from modelscaler.engine.types import Decision, Memory, Mode, Observation, ScalingParams

POD_LABEL = "serving.modelscaler.io/deployment"
# How much per-tick history the diagnosis keeps in memory, in seconds.
HISTORY_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Readings:
    """What the signals said this tick beyond the engine's Observation (None = unknown)."""

    latency_p50: float | None = None
    latency_p90: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    request_rate: float | None = None
    error_rate: float | None = None
    queue_size: float | None = None
    kv_cache_usage: float | None = None
    waiting_requests: float | None = None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An Event to post about the ModelDeployment."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Tracked:
    """What the operator remembers of one ModelDeployment between ticks (in memory).

    The parts that must survive a restart (the engine memory, the last decision,
    the history, the conditions) are also in status and are read back from it on
    first sight; the per-tick samples are not (diagnosis rebuilds its evidence).
    """

    memory: Memory = field(default_factory=Memory)
    desired: int | None = None
    samples: deque[Sample] = field(default_factory=deque)
    scale_events: deque[ScaleEvent] = field(default_factory=deque)
    restarts: dict[tuple[str, str, float], RestartEvent] = field(default_factory=dict)
    starts: dict[str, PodStart] = field(default_factory=dict)
    diagnosis: DiagnosisState = field(default_factory=DiagnosisState)
    conditions: list[Condition] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    last_decision: LastDecision | None = None
    written_status: dict[str, Any] | None = None
    written_at: float | None = None
    announced: set[str] = field(default_factory=set)
    first_seen: float | None = None
    arrivals_seen_at: float | None = None
    findings: list[Finding] | None = None
    diagnosed_at: float | None = None

    @classmethod
    def from_status(cls, status: dict[str, Any] | None) -> Tracked:
        """Reads back what a previous operator process wrote (restart safety)."""
        tracked = cls()
        if not status:
            return tracked
        try:
            parsed = ModelDeploymentStatus.model_validate(status)
        except ValidationError:
            return tracked
        if parsed.scale_down is not None:
            tracked.memory = Memory.from_dict(parsed.scale_down.model_dump(by_alias=True, exclude_none=True))
        tracked.desired = parsed.desired_replicas
        tracked.conditions = list(parsed.conditions or [])
        tracked.history = list(parsed.history or [])
        tracked.last_decision = parsed.last_decision
        return tracked


@dataclass(frozen=True, slots=True)
class Plan:
    """What the control loop should write for one deployment this tick."""

    scale_to: int | None = None
    status: dict[str, Any] | None = None  # the whole status; None = unchanged, no PATCH
    events: tuple[EventSpec, ...] = ()
    ensure_owned: bool = False


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything observed about one ModelDeployment at one tick."""

    body: dict[str, Any]
    deployment: dict[str, Any] | None  # the owned Deployment's summary (handlers._owned_summary)
    pods: PodSummary
    observation: Observation | None  # None when the signals were not fetched at all
    readings: Readings
    competing: tuple[str, ...] = ()  # other scalers targeting the Deployment
    leader: bool = True
    pod_bodies: tuple[dict[str, Any], ...] = ()  # the pods themselves (for the newest template hash)


def _invalid_spec_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _cond(ctype: str, status: str, reason: str, message: str, generation: int | None) -> Condition:
    return Condition.model_validate(
        {
            "type": ctype,
            "status": status,
            "reason": reason,
            "message": message[:32768],
            "observedGeneration": generation,
        }
    )


def _state_conditions(
    decision: Decision, params: ScalingParams, competing: Sequence[str], generation: int | None
) -> list[Condition]:
    """The HPA-style conditions for this decision."""
    out = []
    if competing:
        out.append(
            _cond(
                ABLE_TO_SCALE,
                "False",
                "ConflictingScaler",
                f"{', '.join(competing)} also targets this Deployment; modelscaler will not write replicas "
                "while it exists. Delete it or remove its scaleTargetRef.",
                generation,
            )
        )
    elif decision.reason == "Paused":
        out.append(
            _cond(ABLE_TO_SCALE, "True", "Paused", "autoscaling.paused is true: replicas held", generation)
        )
    elif decision.reason == "ScaleDownStabilized":
        out.append(_cond(ABLE_TO_SCALE, "True", "ScaleDownStabilized", decision.message, generation))
    else:
        out.append(
            _cond(ABLE_TO_SCALE, "True", "ReadyForNewScale", "the operator may change replicas", generation)
        )
    if decision.valid:
        out.append(
            _cond(
                SCALING_ACTIVE,
                "True",
                "ValidMetricFound",
                "the concurrency signal is known and fresh",
                generation,
            )
        )
    else:
        out.append(
            _cond(
                SCALING_ACTIVE, "False", decision.reason or "MetricsUnavailable", decision.message, generation
            )
        )
    if decision.limited_by:
        out.append(_cond(SCALING_LIMITED, "True", decision.limited_by, decision.message, generation))
    else:
        out.append(
            _cond(
                SCALING_LIMITED,
                "False",
                "DesiredWithinRange",
                f"the desired count is within [{params.min_replicas}, {params.max_replicas}]",
                generation,
            )
        )
    return out


def _ready_condition(ready: int, desired: int, generation: int | None) -> Condition:
    if desired == 0:
        return _cond(READY, "True", "ScaledToZero", "no replicas wanted", generation)
    if ready >= 1:
        return _cond(READY, "True", "ReplicasReady", f"{ready} of {desired} replicas ready", generation)
    return _cond(READY, "False", "NoReplicaReady", f"0 of {desired} replicas ready yet", generation)


# How long after the arrival signal was last seen its absence is taken as a gap, not as a server
# that exports no arrivals (in stable windows).
ARRIVAL_GAP_WINDOWS = 10.0


def _without_backlog_sizing(
    observation: Observation, tracked: Tracked, params: ScalingParams, now: float
) -> Observation:
    """Withholds in-flight sizing while the arrival signal is only missing for a moment.

    In-flight concurrency counts queued requests, so right after a cold start (or a
    metrics gap) it measures the backlog, not the demand: sizing from it makes the
    replicas the backlog would need. When arrivals are known the engine sizes from them;
    when they are missing but were seen recently, or the deployment has been watched for
    less than one stable window (the series may simply be too new), the tick holds
    instead. A server that never exports arrivals falls back to in-flight sizing after
    that first window.
    """
    if tracked.first_seen is None:
        tracked.first_seen = now
    if observation.arrival_concurrency_stable is not None:
        tracked.arrivals_seen_at = now
        return observation
    if observation.stable_concurrency is None and observation.burst_concurrency is None:
        return observation
    recently = tracked.arrivals_seen_at is not None and (
        now - tracked.arrivals_seen_at < ARRIVAL_GAP_WINDOWS * params.stable_window
    )
    new = now - tracked.first_seen < params.stable_window
    if not (recently or new):
        return observation
    return replace(
        observation,
        stable_concurrency=None,
        burst_concurrency=None,
        unknown_reason="the arrival rate is not known yet (series too new or a gap); in-flight concurrency "
        "includes queued requests, so sizing waits for it",
    )


def _remember(tracked: Tracked, inputs: Inputs, now: float) -> None:
    """Keeps restarts and pod starts seen this tick (deduplicated), bounded in time."""
    for event in inputs.pods.restarts:
        tracked.restarts.setdefault((event.pod, event.container, round(event.time, 0)), event)
    for start in inputs.pods.starts:
        tracked.starts.setdefault(start.pod, start)
    horizon = now - HISTORY_SECONDS
    tracked.restarts = {k: v for k, v in tracked.restarts.items() if v.time >= horizon}
    tracked.starts = {k: v for k, v in tracked.starts.items() if v.time >= horizon}
    while tracked.samples and tracked.samples[0].time < horizon:
        tracked.samples.popleft()
    while tracked.scale_events and tracked.scale_events[0].time < horizon:
        tracked.scale_events.popleft()


def _template_facts(md: ModelDeployment) -> tuple[int | None, int | None]:
    """The model container's memory limit (bytes) and liveness failureThreshold, when set."""
    containers = (md.spec.template.get("spec") or {}).get("containers") or []
    if not containers:
        return None, None
    first = containers[0]
    limit = ((first.get("resources") or {}).get("limits") or {}).get("memory")
    probe = first.get("livenessProbe")
    threshold = probe.get("failureThreshold", 3) if isinstance(probe, dict) else None
    return parse_quantity_bytes(limit), threshold if isinstance(threshold, int) else None


def parse_quantity_bytes(quantity: object) -> int | None:
    """A Kubernetes memory quantity ("512Mi", "2Gi", "1G", "1000") in bytes; None when absent or odd."""
    if isinstance(quantity, int):
        return quantity
    if not isinstance(quantity, str):
        return None
    units = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "k": 10**3,
        "M": 10**6,
        "G": 10**9,
        "T": 10**12,
    }
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            number = quantity[: -len(suffix)]
            try:
                return int(float(number) * factor)
            except ValueError:
                return None
    try:
        return int(float(quantity))
    except ValueError:
        return None


def _newest_template_hash(pods: Sequence[dict[str, Any]]) -> str | None:
    """The pod-template-hash of the most recently created pod (the Deployment's newest ReplicaSet)."""
    newest = max(
        pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""), default=None
    )
    if newest is None:
        return None
    value = ((newest.get("metadata") or {}).get("labels") or {}).get("pod-template-hash")
    return str(value) if value else None


def _finding_events(before: Sequence[Condition], findings: Sequence[Finding]) -> list[EventSpec]:
    """Events on transitions only: Warning when a problem appears, Normal when it clears."""
    events = []
    for finding in findings:
        old = find_condition(before, finding.type.value)
        old_status = old.status if old is not None else None
        if finding.is_problem and old_status != "True":
            hint = "; ".join(
                f"set {r.setting} from {r.current} to {r.suggested}" for r in finding.recommendations
            )
            message = finding.message.rstrip(". ") + (f". Recommended: {hint}." if hint else ".")
            events.append(EventSpec("Warning", finding.reason, message))
        elif not finding.is_problem and old_status == "True":
            events.append(EventSpec("Normal", f"{finding.type.value}Resolved", finding.message))
    return events


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often the slower parts of reconcile() run, in seconds (the control loop's settings).

    status_refresh: measured figures (concurrency, latency, messages) are re-written at most this
    often when nothing significant changed; a change of replicas, mode, reasons or statuses is
    written at once. diagnosis: the rules run at most this often (their windows are minutes long;
    at 1,000 deployments running them every 2 s tick costs seconds of CPU). owned_grace: how long a
    new ModelDeployment's missing Deployment is left to kopf's create handler before the loop
    creates it itself.
    """

    status_refresh: float = 15.0
    diagnosis: float = 10.0
    owned_grace: float = 30.0


def reconcile(
    inputs: Inputs, tracked: Tracked, now: float, history_limit: int = 20, cadence: Cadence | None = None
) -> Plan:
    """Decides, diagnoses and builds the status for one deployment; updates `tracked` in place."""
    cadence = cadence or Cadence()
    body = inputs.body
    meta = body.get("metadata", {})
    generation = meta.get("generation")
    try:
        md = ModelDeployment.model_validate(body)
    except ValidationError as error:
        message = "the spec is invalid: " + _invalid_spec_message(error)
        conditions = set_condition(
            tracked.conditions, _cond(READY, "False", "InvalidSpec", message, generation), now
        )
        warn = [] if "invalid-spec" in tracked.announced else [EventSpec("Warning", "InvalidSpec", message)]
        tracked.announced.add("invalid-spec")
        return _finish(tracked, inputs, conditions, None, warn, now)

    tracked.announced.discard("invalid-spec")
    params = params_from_spec(md.spec)
    if tracked.first_seen is None:
        tracked.first_seen = now
    if inputs.deployment is None:
        # Missing: kopf's create handler makes it for a new object; after the grace (or if it was
        # deleted by hand) the loop has it (re)created.
        return Plan(ensure_owned=now - tracked.first_seen >= cadence.owned_grace)

    current = tracked.desired
    if current is None:
        current = int(inputs.deployment.get("replicas") or 0)
    observation = inputs.observation or Observation(
        time=now,
        ready_replicas=inputs.pods.ready,
        starting_replicas=inputs.pods.starting,
        current_replicas=current,
        unknown_reason="signals were not fetched this tick",
    )
    observation = replace(
        observation,
        ready_replicas=inputs.pods.ready,
        starting_replicas=inputs.pods.starting,
        current_replicas=current,
    )
    observation = _without_backlog_sizing(observation, tracked, params, now)
    decision, memory = decide(params, observation, tracked.memory, now)
    tracked.memory = memory
    events: list[EventSpec] = []
    scale_to: int | None = None
    deployed = inputs.deployment.get("replicas")
    can_write = inputs.leader and not inputs.competing

    if inputs.competing and "competing" not in tracked.announced:
        tracked.announced.add("competing")
        events.append(
            EventSpec(
                "Warning",
                "ConflictingScaler",
                f"{', '.join(inputs.competing)} targets this Deployment too; "
                "modelscaler stops writing replicas until it is removed.",
            )
        )
    elif not inputs.competing:
        tracked.announced.discard("competing")

    if can_write:
        if decision.desired != deployed:
            scale_to = decision.desired
            if decision.changed:
                tracked.scale_events.append(
                    ScaleEvent(now, decision.current, decision.desired, decision.reason)
                )
                entry = HistoryEntry.model_validate(
                    {
                        "time": rfc3339(now),
                        "from": decision.current,
                        "to": decision.desired,
                        "reason": decision.reason,
                        "message": decision.message[:4096],
                    }
                )
                tracked.history = [*tracked.history, entry][-history_limit:]
                events.append(
                    EventSpec(
                        "Normal",
                        "ScaledUp" if decision.desired > decision.current else "ScaledDown",
                        decision.message,
                    )
                )
            elif deployed is not None and tracked.desired is not None:
                events.append(
                    EventSpec(
                        "Warning",
                        "ManualScaleOverridden",
                        f"the Deployment was scaled to {deployed} outside modelscaler; restored to "
                        f"{decision.desired} (set autoscaling.paused to scale by hand)",
                    )
                )
        tracked.desired = decision.desired
        if decision.changed or tracked.last_decision is None:
            tracked.last_decision = LastDecision.model_validate(
                {
                    "time": rfc3339(now),
                    "from": decision.current,
                    "to": decision.desired,
                    "reason": decision.reason,
                    "message": decision.message[:4096],
                    "inputs": dict(list(decision.inputs.items())[:32]),
                }
            )

    readings = inputs.readings
    tracked.samples.append(
        Sample(
            time=now,
            desired_replicas=tracked.desired if tracked.desired is not None else current,
            ready_replicas=inputs.pods.ready,
            starting_replicas=inputs.pods.starting,
            wanted_replicas=decision.wanted_unclamped,
            min_replicas=params.min_replicas,
            max_replicas=params.max_replicas,
            concurrency=observation.stable_concurrency,
            arrival_concurrency=observation.arrival_concurrency_stable,
            request_rate=readings.request_rate,
            latency_p50=readings.latency_p50,
            latency_p95=readings.latency_p95,
            latency_p99=readings.latency_p99,
            error_rate=readings.error_rate,
            queue_size=readings.queue_size,
            kv_cache_usage=readings.kv_cache_usage,
            waiting_requests=readings.waiting_requests,
            metrics_valid=decision.valid,
        )
    )
    _remember(tracked, inputs, now)
    memory_limit, liveness_threshold = _template_facts(md)
    fresh = tracked.diagnosed_at is not None and now - tracked.diagnosed_at < cadence.diagnosis
    if tracked.findings is not None and fresh:
        return _assemble(
            tracked,
            inputs,
            md,
            params,
            decision,
            observation,
            tracked.findings,
            events,
            now,
            scale_to,
            cadence,
        )
    findings, tracked.diagnosis = diagnose(
        DiagnosisInput(
            samples=tuple(tracked.samples),
            scale_events=tuple(tracked.scale_events),
            restarts=tuple(tracked.restarts.values()),
            pod_starts=tuple(tracked.starts.values()),
            current_template_hash=_newest_template_hash(inputs.pod_bodies),
            memory_limit_bytes=memory_limit,
            liveness_failure_threshold=liveness_threshold,
        ),
        params,
        params_from_diagnosis_spec(md.spec.diagnosis),
        tracked.diagnosis,
        now,
    )
    tracked.findings, tracked.diagnosed_at = findings, now
    events += _finding_events(tracked.conditions, findings)
    return _assemble(
        tracked, inputs, md, params, decision, observation, findings, events, now, scale_to, cadence
    )


def _assemble(
    tracked: Tracked,
    inputs: Inputs,
    md: ModelDeployment,
    params: ScalingParams,
    decision: Decision,
    observation: Observation,
    findings: Sequence[Finding],
    events: list[EventSpec],
    now: float,
    scale_to: int | None,
    cadence: Cadence,
) -> Plan:
    """The status from this tick's decision and the latest findings, and the plan that writes it."""
    generation = inputs.body.get("metadata", {}).get("generation")
    readings = inputs.readings

    conditions = list(tracked.conditions)
    for condition in [
        _ready_condition(inputs.pods.ready, tracked.desired or 0, generation),
        *_state_conditions(decision, params, inputs.competing, generation),
        *(_cond(f.type.value, f.status.value, f.reason, f.message, generation) for f in findings),
    ]:
        conditions = set_condition(conditions, condition, now)
    recommended = [r.to_dict() for r in recommendations(findings)][:16]
    status_parts: dict[str, Any] = {
        "mode": decision.mode.value if isinstance(decision.mode, Mode) else str(decision.mode),
        "concurrency": {
            "stable": _round(observation.stable_concurrency),
            "burst": _round(observation.burst_concurrency),
            "perReplica": _round(
                observation.stable_concurrency / inputs.pods.ready
                if observation.stable_concurrency is not None and inputs.pods.ready
                else None
            ),
            "target": _round(params.capacity),
            "observedAt": rfc3339(observation.time),
        },
        "latency": {
            "p50": _round(readings.latency_p50),
            "p90": _round(readings.latency_p90),
            "p95": _round(readings.latency_p95),
            "p99": _round(readings.latency_p99),
        },
        "scaleDown": tracked.memory.to_dict(),
    }
    return _finish(
        tracked,
        inputs,
        conditions,
        recommended,
        events,
        now,
        extra=status_parts,
        scale_to=scale_to,
        refresh_seconds=cadence.status_refresh,
    )


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _drop_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_none(v) for v in data]
    return data


def _finish(
    tracked: Tracked,
    inputs: Inputs,
    conditions: list[Condition],
    recommendations: list[dict[str, str]] | None,
    events: list[EventSpec],
    now: float,
    *,
    extra: dict[str, Any] | None = None,
    scale_to: int | None = None,
    refresh_seconds: float = 15.0,
) -> Plan:
    """Assembles the whole status and returns a plan that patches it only when it changed."""
    meta = inputs.body.get("metadata", {})
    name = meta.get("name", "")
    tracked.conditions = conditions
    desired = tracked.desired
    status: dict[str, Any] = {
        "observedGeneration": meta.get("generation"),
        "replicas": (inputs.deployment or {}).get("status_replicas") or 0,
        "readyReplicas": inputs.pods.ready,
        "startingReplicas": inputs.pods.starting,
        "desiredReplicas": desired,
        "ready": f"{inputs.pods.ready}/{desired}" if desired is not None else None,
        "selector": f"{POD_LABEL}={name}",
        **(extra or {}),
        "lastDecision": tracked.last_decision.model_dump(by_alias=True, exclude_none=True)
        if tracked.last_decision
        else None,
        "history": [h.model_dump(by_alias=True, exclude_none=True) for h in tracked.history],
        "conditions": [c.model_dump(by_alias=True, exclude_none=True) for c in conditions],
        "recommendations": recommendations,
        "diagnosis": diagnosis_summary(conditions),
    }
    status = _drop_none(status)
    if not _worth_writing(status, tracked, now, refresh_seconds):
        return Plan(scale_to=scale_to, status=None, events=tuple(events))
    return Plan(scale_to=scale_to, status=status, events=tuple(events))


def _significant(status: dict[str, Any]) -> dict[str, Any]:
    """The status without the figures that move every tick (measurements, messages, the window's tail)."""
    kept = {k: v for k, v in status.items() if k not in {"concurrency", "latency", "scaleDown"}}
    kept["conditions"] = [
        {k: v for k, v in c.items() if k not in {"message", "lastTransitionTime"}}
        for c in status.get("conditions", [])
    ]
    window = list(status.get("scaleDown", {}).get("window", []))
    kept["window"] = [p for p in window[:-1]] + [window[-1][1:]] if window else []
    return kept


def _worth_writing(status: dict[str, Any], tracked: Tracked, now: float, refresh_seconds: float) -> bool:
    """Whether to PATCH: on any significant change at once, else to refresh figures every refresh_seconds."""
    previous = tracked.written_status
    if previous is None:
        return True
    if status == previous:
        return False
    if _significant(status) != _significant(previous):
        return True
    return tracked.written_at is None or now - tracked.written_at >= refresh_seconds


def merge_patch(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) that turns `previous` into `new`: keys that disappeared become None.

    Lists are replaced whole, as merge patch always does.
    """
    patch: dict[str, Any] = {}
    previous = previous or {}
    for key, value in new.items():
        old = previous.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = merge_patch(old, value)
            if inner:
                patch[key] = inner
        elif value != old:
            patch[key] = value
    for key in previous:
        if key not in new:
            patch[key] = None
    return patch
