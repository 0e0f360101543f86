"""The scale-down delay's sliding-window maximum, kept as a compact monotone list.

The window answers one question: what is the largest replica count wanted at
any time during the last `horizon` seconds? It stores only the points that can
still become that maximum: a point is dropped once a later point wants as much
or more (it can never be the maximum again), and once it is older than the
horizon. What remains is strictly decreasing in `wanted` from oldest to newest,
so the first point is the maximum and the length is bounded by the number of
distinct wanted values (never more than the largest value plus one).
"""

from __future__ import annotations

from modelscaler.engine.types import WindowPoint

Window = tuple[WindowPoint, ...]


def prune(window: Window, now: float, horizon: float) -> Window:
    """Drops the points older than `horizon` seconds before `now` (a point exactly `horizon` old stays)."""
    oldest_kept = now - horizon
    first_kept = 0
    while first_kept < len(window) and window[first_kept].time < oldest_kept:
        first_kept += 1
    return window[first_kept:]


def record(window: Window, now: float, wanted: int) -> Window:
    """Appends (now, wanted), dropping the earlier points that wanted no more than it."""
    last_kept = len(window)
    while last_kept > 0 and window[last_kept - 1].wanted <= wanted:
        last_kept -= 1
    return (*window[:last_kept], WindowPoint(now, wanted))


def window_max(window: Window) -> WindowPoint | None:
    """The point holding the window's maximum (the oldest one), or None for an empty window."""
    return window[0] if window else None
