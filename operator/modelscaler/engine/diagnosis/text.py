"""How figures are written in messages and recommendations."""

from __future__ import annotations

import math
from collections.abc import Callable

# The API's bound on scaleDownDelay (design brief §2: 0 ... 3600 s).
MAX_SCALE_DOWN_DELAY = 3600.0
# The largest count a recommendation names: absurd inputs give a large answer, never an overflow.
COUNT_CAP = 1_000_000


def whole_up(value: float) -> int:
    """A count covering `value`: rounded up (ignoring float noise), at most COUNT_CAP (also inf/NaN)."""
    if not math.isfinite(value) or value >= COUNT_CAP:
        return COUNT_CAP
    return math.ceil(value - 1e-9)


def secs(value: float) -> str:
    """A latency in seconds for a message: "0.8 s", "0.05 s", "12 s"."""
    if value >= 10:
        return f"{value:.0f} s"
    if value >= 0.1:
        return f"{value:.1f} s"
    return f"{value:.2g} s"


def span(seconds: float) -> str:
    """A duration for a message: "45 s", "20 min", "1.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        minutes = seconds / 60
        return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min".replace(".0 min", " min")
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


def figure_range(low: float, high: float, write: Callable[[float], str]) -> str:
    """A range for a message, e.g. "2-4 min" or "6.5-7": one figure when both ends read the same."""
    low_text, high_text = write(low), write(high)
    if low_text == high_text:
        return low_text
    return f"{low_text}-{high_text}"


def num(value: float) -> str:
    """A count or load for a message or a setting: "12", "4.2", "0.35"."""
    if not math.isfinite(value):
        return str(value)
    if math.isclose(value, round(value), abs_tol=1e-9):
        return str(round(value))
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.2g}"


def pct(share: float) -> str:
    """A share 0..1 as a percentage: "12%"."""
    return f"{share * 100:.0f}%"


def duration_setting(seconds: float) -> str:
    """A duration setting as the spec takes it: "45s", "15m", "1h"; whole minutes from one minute up."""
    if seconds < 60:
        return f"{math.ceil(seconds)}s"
    minutes = math.ceil(seconds / 60 - 1e-9)
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def exact_duration(seconds: float) -> str:
    """A current duration setting written exactly, as a user would: "90s" -> "1m30s", "3541s" -> "59m1s"."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs_ = divmod(rest, 60)
    text = "".join(f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs_, "s")) if value)
    return text or "0s"


def delay_to_cover(observed: float, margin: float) -> float:
    """The scaleDownDelay (seconds, whole minutes, capped at the API maximum) covering `observed` x margin."""
    return min(MAX_SCALE_DOWN_DELAY, math.ceil(observed * margin / 60 - 1e-9) * 60.0)


def concurrency_setting(value: float) -> float:
    """A concurrencyTarget suggestion: whole requests from one up (rounded down), else one decimal."""
    if value >= 1:
        return float(math.floor(min(value, COUNT_CAP) + 1e-9))
    return max(0.1, math.floor(value * 10 + 1e-9) / 10)


def memory_quantity(size_bytes: int) -> str:
    """A memory limit as Kubernetes writes it: "8Gi", "1536Mi", or plain bytes when not whole MiB."""
    for unit, size in (("Gi", 2**30), ("Mi", 2**20)):
        if size_bytes % size == 0:
            return f"{size_bytes // size}{unit}"
    return str(size_bytes)


def larger_memory(size_bytes: int, factor: float) -> str:
    """`size_bytes` x factor rounded up to 256 MiB steps (at least one step more than now): "12Gi"."""
    step = 256 * 2**20
    steps = max(whole_up(size_bytes * factor / step), size_bytes // step + 1)
    return memory_quantity(steps * step)
