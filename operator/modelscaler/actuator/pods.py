"""What a deployment's pods say: Ready vs starting, restarts with their cause, cold-start times.

`summarise_pods` is pure: it reads pod dicts (from kopf's index) and returns frozen
values in the engine's vocabulary (`RestartEvent`, `PodStart`), with times as Unix
seconds. What the pod object can and cannot tell, and how we infer the rest:

* **Ready / starting.** A pod counts as ready when its `Ready` condition is True, as
  starting otherwise, unless it is terminating (has a deletionTimestamp) or finished
  (phase Succeeded/Failed): those count for neither.
* **Restarts.** A container status shows only the *last* termination
  (`lastState.terminated`: reason, exitCode, startedAt, finishedAt) and a counter
  (`restartCount`). Each summary therefore reports one `RestartEvent` per container
  that has restarted, timed at `finishedAt` (a termination without one has no time
  and is only counted in `restart_count`); the caller deduplicates across ticks by
  (pod, container, time) and can compare `restart_count` between ticks to see
  restarts it missed. Restarts of terminating pods are reported too: they happened.
* **Was the crashed run ever Ready?** The pod's `Ready` condition flips to False when
  a Ready container dies, so its `lastTransitionTime` (T) dates the last flip. With the
  terminated run spanning [startedAt, finishedAt]:
  - Ready is False and T is after the run's start: the run was Ready and lost
    readiness (on dying, or just before when its readiness probe failed first);
  - Ready is False and T is at or before the run's start: Ready has been False since
    before the run began, so the run died without ever being Ready: a crash during
    model load (`was_ready=False`);
  - Ready is True now: the pod recovered after the crash and the condition no longer
    remembers the earlier run; we report `was_ready=True` (the conservative answer:
    it never claims a load crash without evidence).
  Without `startedAt` (some simulated pods), the pod's `status.startTime` stands in,
  which is exact for the first run.
* **Liveness kills.** The kubelet kills a container whose liveness probe fails with
  SIGTERM then SIGKILL, so the state reads reason "Error" and exit code 143 or 137:
  the same as any other kill. The probe failure is written only into Events
  ("Unhealthy: Liveness probe failed: ..."), which pods do not carry. We mark
  `liveness_failed` when the termination's message or reason mentions a liveness
  probe (a kwok Stage, or a server's termination log, may write it there); exit 137
  alone is not taken as proof.
* **Cold starts.** For a Ready pod whose containers never restarted, the Ready
  condition's lastTransitionTime minus the pod's creationTimestamp is its time to
  Ready (`PodStart`). Pods that restarted are left out: their Ready time measures
  the crash loop, which the restart events already report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelscaler.engine.history import PodStart, RestartEvent

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True, slots=True)
class PodSummary:
    """The state of one deployment's pods at one moment.

    ready / starting: non-terminating pods with Ready True / not (yet) Ready.
    terminating: pods with a deletionTimestamp (counted in neither).
    restart_count: sum of restartCount over all containers of all pods listed.
    restarts: the last termination of every container that has restarted.
    starts: time to Ready of the Ready pods that never restarted.
    waiting_reasons: how many containers wait for each reason (CrashLoopBackOff, ...).
    """

    ready: int = 0
    starting: int = 0
    terminating: int = 0
    restart_count: int = 0
    restarts: tuple[RestartEvent, ...] = ()
    starts: tuple[PodStart, ...] = ()
    waiting_reasons: Mapping[str, int] = field(default_factory=dict)


def parse_time(value: object) -> float | None:
    """An RFC 3339 timestamp (as the API server writes it) as Unix seconds; None if absent or bad."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _ready_condition(pod: Mapping[str, Any]) -> tuple[bool, float | None]:
    """(whether the pod is Ready, when the Ready condition last flipped)."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True", parse_time(condition.get("lastTransitionTime"))
    return False, None


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _mentions_liveness(terminated: Mapping[str, Any]) -> bool:
    text = f"{terminated.get('reason') or ''} {terminated.get('message') or ''}".lower()
    return "liveness" in text


def _run_was_ready(is_ready: bool, ready_changed_at: float | None, run_started_at: float | None) -> bool:
    if is_ready or ready_changed_at is None or run_started_at is None:
        return True
    return ready_changed_at > run_started_at


def _restart_event(
    pod: Mapping[str, Any],
    container_status: Mapping[str, Any],
    is_ready: bool,
    ready_changed_at: float | None,
) -> RestartEvent | None:
    terminated = (container_status.get("lastState") or {}).get("terminated")
    if not isinstance(terminated, Mapping):
        return None
    finished_at = parse_time(terminated.get("finishedAt"))
    if finished_at is None:
        return None
    metadata = pod.get("metadata") or {}
    run_started_at = parse_time(terminated.get("startedAt"))
    if run_started_at is None:
        run_started_at = parse_time((pod.get("status") or {}).get("startTime"))
    exit_code = terminated.get("exitCode")
    return RestartEvent(
        time=finished_at,
        pod=str(metadata.get("name", "")),
        container=str(container_status.get("name", "")),
        reason=str(terminated.get("reason") or "Unknown"),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        was_ready=_run_was_ready(is_ready, ready_changed_at, run_started_at),
        liveness_failed=_mentions_liveness(terminated),
        pod_template_hash=(metadata.get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL),
    )


def _pod_start(pod: Mapping[str, Any], ready_changed_at: float | None) -> PodStart | None:
    metadata = pod.get("metadata") or {}
    created_at = parse_time(metadata.get("creationTimestamp"))
    if created_at is None or ready_changed_at is None:
        return None
    return PodStart(
        time=ready_changed_at,
        pod=str(metadata.get("name", "")),
        seconds_to_ready=max(0.0, ready_changed_at - created_at),
    )


def summarise_pods(pods: Iterable[Mapping[str, Any]]) -> PodSummary:
    """Counts, restart events and cold-start times of one deployment's pods (see the module doc)."""
    ready = starting = terminating = restart_count = 0
    restarts: list[RestartEvent] = []
    starts: list[PodStart] = []
    waiting_reasons: dict[str, int] = {}
    for pod in pods:
        is_ready, ready_changed_at = _ready_condition(pod)
        statuses = _container_statuses(pod)
        pod_restarts = 0
        for container_status in statuses:
            count = container_status.get("restartCount")
            pod_restarts += count if isinstance(count, int) else 0
            event = _restart_event(pod, container_status, is_ready, ready_changed_at)
            if event is not None:
                restarts.append(event)
            waiting = (container_status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                waiting_reasons[waiting["reason"]] = waiting_reasons.get(waiting["reason"], 0) + 1
        restart_count += pod_restarts
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            terminating += 1
        elif (pod.get("status") or {}).get("phase") in _FINISHED_PHASES:
            continue
        elif is_ready:
            ready += 1
            start = _pod_start(pod, ready_changed_at) if pod_restarts == 0 else None
            if start is not None:
                starts.append(start)
        else:
            starting += 1
    restarts.sort(key=lambda event: (event.time, event.pod, event.container))
    starts.sort(key=lambda start: (start.time, start.pod))
    return PodSummary(
        ready=ready,
        starting=starting,
        terminating=terminating,
        restart_count=restart_count,
        restarts=tuple(restarts),
        starts=tuple(starts),
        waiting_reasons=waiting_reasons,
    )
