"""Kubernetes Events about a ModelDeployment: their bodies, and the memory that aggregates repeats.

A repeat of the same (object, type, reason, message) bumps the existing Event's
count and lastTimestamp, as the kubelet and client-go's recorder do, instead of
creating another object; `kubectl describe` then shows "(x5 over 10m)". The memory
is small and in-process: after an operator restart the first repeat creates a new
Event, which is harmless.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from modelscaler.actuator.manifests import API_VERSION, KIND

EventType = Literal["Normal", "Warning"]
REPORTING_COMPONENT = "modelscaler"
MAX_MESSAGE_LENGTH = 1024
_ELLIPSIS = "..."


@dataclass(frozen=True, slots=True)
class EventKey:
    """What makes two Events the same one, repeated."""

    namespace: str
    uid: str
    type: EventType
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class SeenEvent:
    """An Event this process created or bumped: its name and how often it has happened."""

    name: str
    count: int


def truncate_message(message: str) -> str:
    """The message cut to the API's 1024-character limit, marked with an ellipsis when cut."""
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - len(_ELLIPSIS)] + _ELLIPSIS


def format_time(moment: datetime) -> str:
    """A core/v1 Event timestamp: RFC 3339 in UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_key(md: Mapping[str, Any], type_: EventType, reason: str, message: str) -> EventKey:
    """The aggregation key of an Event about `md` (the message already truncated)."""
    metadata = md.get("metadata") or {}
    return EventKey(
        namespace=str(metadata.get("namespace", "")),
        uid=str(metadata.get("uid", "")),
        type=type_,
        reason=reason,
        message=truncate_message(message),
    )


def build_event(
    md: Mapping[str, Any], key: EventKey, now: datetime, reporting_instance: str = ""
) -> dict[str, Any]:
    """A new core/v1 Event regarding the ModelDeployment (the server completes the generated name)."""
    metadata = md.get("metadata") or {}
    timestamp = format_time(now)
    event: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{metadata.get('name', 'modeldeployment')}.",
            "namespace": key.namespace,
        },
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": metadata.get("name"),
            "namespace": key.namespace,
            "uid": key.uid,
        },
        "type": key.type,
        "reason": key.reason,
        "message": key.message,
        "count": 1,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "source": {"component": REPORTING_COMPONENT},
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": reporting_instance,
    }
    if reporting_instance:
        event["source"]["host"] = reporting_instance
    return event


def build_repeat_patch(seen: SeenEvent, now: datetime) -> dict[str, Any]:
    """The merge patch that records one more occurrence of an Event already posted."""
    return {"count": seen.count + 1, "lastTimestamp": format_time(now)}


class EventMemory:
    """A bounded, least-recently-used memory of the Events this process posted."""

    def __init__(self, max_entries: int = 512) -> None:
        """Keeps at most `max_entries` Events; the least recently used is forgotten first."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._seen: OrderedDict[EventKey, SeenEvent] = OrderedDict()

    def __len__(self) -> int:
        """How many Events are remembered."""
        return len(self._seen)

    def get(self, key: EventKey) -> SeenEvent | None:
        """The Event posted for `key`, if remembered (and marks it recently used)."""
        seen = self._seen.get(key)
        if seen is not None:
            self._seen.move_to_end(key)
        return seen

    def remember(self, key: EventKey, seen: SeenEvent) -> None:
        """Records the Event posted or bumped for `key`."""
        self._seen[key] = seen
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)

    def forget(self, key: EventKey) -> None:
        """Drops `key` (its Event is gone from the server, e.g. expired)."""
        self._seen.pop(key, None)
