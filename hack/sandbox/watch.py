"""What a user should watch, printed as it happens: a line per deployment and each scaling Event.

Every poll reads the namespace's ModelDeployments and Events in one `kubectl get`. A deployment's
line (replicas ready/desired, concurrency against the per-replica target, p95 latency, mode,
diagnosis) is printed every few seconds; an Event is printed once when it appears and again, with
its count, each time it repeats. Formatting is pure (tested without a cluster); `watch` is the loop.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from hack import cluster as local_cluster

POLL_SECONDS = 2.0
NAME_WIDTH = 10


def clock(seconds: float) -> str:
    """Elapsed seconds as m:ss (negative counts as 0)."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _number(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def deployment_line(md: Mapping[str, Any], elapsed: float) -> str:
    """One compact line for a ModelDeployment's status."""
    name = str(md.get("metadata", {}).get("name", "?"))
    status: Mapping[str, Any] = md.get("status") or {}
    ready = status.get("readyReplicas")
    desired = status.get("desiredReplicas")
    starting = status.get("startingReplicas") or 0
    replicas = f"{'-' if ready is None else ready}/{'-' if desired is None else desired}"
    starting_text = f"(+{starting} starting)" if starting else ""
    concurrency: Mapping[str, Any] = status.get("concurrency") or {}
    latency: Mapping[str, Any] = status.get("latency") or {}
    p95 = latency.get("p95")
    return (
        f"[{clock(elapsed)}] {name:<{NAME_WIDTH}} ready {replicas:>5} {starting_text:<14}"
        f"concurrency {_number(concurrency.get('stable')):>6} (target {_number(concurrency.get('target'))}"
        f"/replica)  p95 {_number(p95, 2) + 's' if p95 is not None else '-':>6}  "
        f"{status.get('mode') or '-':<8} {status.get('diagnosis') or '-'}"
    )


def event_time(event: Mapping[str, Any]) -> float | None:
    """When an Event last happened (Unix seconds), from lastTimestamp, eventTime or firstTimestamp."""
    for field in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = event.get(field)
        if value:
            try:
                return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def problem_conditions(md: Mapping[str, Any]) -> dict[str, str]:
    """reason -> type of a ModelDeployment's True diagnosis conditions (the HPA-style state ones aside)."""
    state_types = {"Ready", "AbleToScale", "ScalingActive", "ScalingLimited"}
    return {
        str(c.get("reason")): str(c.get("type"))
        for c in (md.get("status") or {}).get("conditions") or []
        if c.get("status") == "True" and c.get("type") not in state_types
    }


def event_lines(
    event: Mapping[str, Any], elapsed: float, width: int, condition: str | None = None
) -> list[str]:
    """An Event as a headline (time, object, reason, the condition it raised) and its message below it."""
    involved: Mapping[str, Any] = event.get("involvedObject") or {}
    count = int(event.get("count") or 1)
    marker = "WARNING " if event.get("type") == "Warning" else ""
    repeats = f" (x{count})" if count > 1 else ""
    raised = f" -> condition {condition}=True" if condition else ""
    headline = (
        f"[{clock(elapsed)}] {involved.get('name', '?'):<{NAME_WIDTH}} "
        f"{marker}{event.get('reason')}{repeats}{raised}"
    )
    indent = " " * 9
    message = textwrap.wrap(
        str(event.get("message") or ""), width=max(40, width), initial_indent=indent, subsequent_indent=indent
    )
    return [headline, *message]


@dataclasses.dataclass
class EventFeed:
    """Picks the Events not printed yet: new ones, and repeats (a higher count) of printed ones."""

    since: float
    kinds: frozenset[str] = frozenset({"ModelDeployment"})
    printed: dict[str, int] = dataclasses.field(default_factory=dict)

    def fresh(self, events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The Events to print now, oldest first; they count as printed afterwards."""
        chosen = []
        for event in events:
            if (event.get("involvedObject") or {}).get("kind") not in self.kinds:
                continue
            uid = str(event.get("metadata", {}).get("uid", ""))
            count = int(event.get("count") or 1)
            happened = event_time(event)
            if self.printed.get(uid, 0) >= count or (happened is not None and happened < self.since):
                continue
            self.printed[uid] = count
            chosen.append(event)
        return sorted(chosen, key=lambda e: event_time(e) or 0.0)


def read_namespace(cluster: local_cluster.ClusterState, namespace: str) -> list[dict[str, Any]]:
    """The namespace's ModelDeployments and Events in one list (empty when kubectl fails)."""
    try:
        found = local_cluster.kubectl_run(
            cluster, ["get", "modeldeployments,events", "-n", namespace, "-o", "json"], check=False
        )
    except subprocess.TimeoutExpired:
        return []
    if found.returncode != 0:
        return []
    items: list[dict[str, Any]] = json.loads(found.stdout).get("items", [])
    return items


def watch(
    cluster: local_cluster.ClusterState,
    namespace: str,
    origin: float,
    duration: float,
    interval: float,
    emit: Callable[[str], None] = print,
    events_since: float | None = None,
) -> None:
    """Print deployment lines every `interval` s and Events as they come, for `duration` s.

    `origin` is the Unix time that elapsed times count from (the traffic's start); Events from
    `events_since` (default: the origin) on are printed. Raises KeyboardInterrupt on Ctrl-C.
    """
    feed = EventFeed(since=(origin if events_since is None else events_since) - 1.0)
    width = shutil.get_terminal_size((110, 24)).columns - 10
    stop_at = time.monotonic() + duration
    next_lines = 0.0
    while time.monotonic() < stop_at:
        items = read_namespace(cluster, namespace)
        now = time.time()
        deployments = sorted(
            (i for i in items if i.get("kind") == "ModelDeployment"),
            key=lambda md: str(md.get("metadata", {}).get("name")),
        )
        problems = {str(md.get("metadata", {}).get("name")): problem_conditions(md) for md in deployments}
        for event in feed.fresh(i for i in items if i.get("kind") == "Event"):
            name = str((event.get("involvedObject") or {}).get("name"))
            condition = (
                problems.get(name, {}).get(str(event.get("reason")))
                if event.get("type") == "Warning"
                else None
            )
            for line in event_lines(event, (event_time(event) or now) - origin, width, condition):
                emit(line)
        if time.monotonic() >= next_lines:
            for md in deployments:
                emit(deployment_line(md, now - origin))
            next_lines = time.monotonic() + interval
        time.sleep(min(POLL_SECONDS, max(0.0, stop_at - time.monotonic())))
