"""Shorthands the rules use to state their verdict (before hysteresis)."""

from __future__ import annotations

from collections.abc import Callable

from modelscaler.engine.diagnosis.context import Context
from modelscaler.engine.diagnosis.model import ConditionStatus, ConditionType, Finding, Recommendation

# A rule reads the context and states a verdict for its one condition type.
Rule = Callable[[Context], Finding]

NO_SAMPLES = "no samples recorded yet"


def problem(
    kind: ConditionType, reason: str, message: str, *recommendations: Recommendation | None
) -> Finding:
    """The problem is present (status True); None recommendations (nothing to change) are left out."""
    return Finding(
        kind, ConditionStatus.TRUE, reason, message, tuple(r for r in recommendations if r is not None)
    )


def absent(kind: ConditionType, reason: str, message: str) -> Finding:
    """The problem is not present (status False)."""
    return Finding(kind, ConditionStatus.FALSE, reason, message)


def unknown(kind: ConditionType, reason: str, message: str) -> Finding:
    """The data needed to tell is missing (status Unknown)."""
    return Finding(kind, ConditionStatus.UNKNOWN, reason, message)
