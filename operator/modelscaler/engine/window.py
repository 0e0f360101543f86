"""The scale-down delay's sliding-window maximum, kept as a compact monotone list.

The window answers one question: what is the largest replica count wanted at
any time during the last `horizon` seconds? It stores only the points that can
still become that maximum: a point is dropped once a later point wants as much
or more (it can never be the maximum again), and once it is older than the
horizon. What remains is strictly decreasing in `wanted` from oldest to newest,
so the first point is the maximum and the length is bounded by the number of
distinct wanted values (never more than the largest value plus one).

For very large deployments (a slow decline from thousands of replicas) the list
is also capped at MAX_POINTS: past it, the two neighbours closest in value are
merged into one point holding the larger value until the later time. That only
ever holds more replicas, a little longer, never fewer, so the cap is safe.
"""

from __future__ import annotations

from modelscaler.engine.types import WindowPoint

Window = tuple[WindowPoint, ...]

# Well under the status schema's limit of 1000 points; about 2 KB of status at most.
MAX_POINTS = 100


def prune(window: Window, now: float, horizon: float) -> Window:
    """Drops the points older than `horizon` seconds before `now` (a point exactly `horizon` old stays)."""
    oldest_kept = now - horizon
    first_kept = 0
    while first_kept < len(window) and window[first_kept].time < oldest_kept:
        first_kept += 1
    return window[first_kept:]


def record(window: Window, now: float, wanted: int, max_points: int = MAX_POINTS) -> Window:
    """Appends (now, wanted), dropping the earlier points that wanted no more than it."""
    last_kept = len(window)
    while last_kept > 0 and window[last_kept - 1].wanted <= wanted:
        last_kept -= 1
    recorded = (*window[:last_kept], WindowPoint(now, wanted))
    return recorded if len(recorded) <= max_points else _merge_closest(recorded)


def _merge_closest(window: Window) -> Window:
    """Merges the neighbours closest in value: the larger value, held until the later one's time."""
    closest = min(range(len(window) - 1), key=lambda i: window[i].wanted - window[i + 1].wanted)
    merged = WindowPoint(window[closest + 1].time, window[closest].wanted)
    return (*window[:closest], merged, *window[closest + 2 :])


def window_max(window: Window) -> WindowPoint | None:
    """The point holding the window's maximum (the oldest one), or None for an empty window."""
    return window[0] if window else None
