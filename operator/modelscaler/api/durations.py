"""Durations as users write them ("60s", "15m", "1h30m") and as the engine uses them (seconds).

The accepted form is a subset of Go's `time.ParseDuration`, which is what the
API server's CEL `duration()` function parses: one or more `<number><unit>`
parts with the units h, m, s and ms, e.g. "90s", "1.5h", "1h30m", "250ms".
Signs, bare numbers and the micro/nano units are refused, so every value the
schema's pattern admits parses the same way here and in CEL.
"""

from __future__ import annotations

import math
import re

# The schema pattern (RE2 and Python agree on it). "ms" is listed before "m" so
# that a Python `fullmatch` and `finditer` pick the two-letter unit.
DURATION_PATTERN = r"^([0-9]+([.][0-9]+)?(h|ms|m|s))+$"
DURATION_MAX_LENGTH = 32

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)")
_WHOLE = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Parses a duration such as "60s", "15m" or "1h30m" into seconds.

    Raises ValueError for anything the CRD's duration pattern refuses.
    """
    if len(text) > DURATION_MAX_LENGTH or not _WHOLE.fullmatch(text):
        raise ValueError(
            f"invalid duration {text!r}: write a number with a unit h, m, s or ms, e.g. 60s, 15m, 1h30m"
        )
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Writes seconds in the shortest form `parse_duration` reads back, e.g. 5400 -> "1h30m".

    Whole hours and minutes are split off; the rest is seconds with at most
    three decimals. Zero is "0s". Negative or non-finite values raise ValueError.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot write {seconds!r} as a duration")
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    parts: list[str] = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if millis or not parts:
        whole, frac = divmod(millis, 1000)
        parts.append(f"{whole}.{frac:03d}".rstrip("0").rstrip(".") + "s")
    return "".join(parts)
