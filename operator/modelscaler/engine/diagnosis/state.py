"""What diagnosis remembers between calls: the conditions that are True, for hysteresis.

Only True conditions are kept (at most one entry per condition type), each with
the last finding that had evidence, so that a held condition keeps showing the
evidence and recommendations that raised it. The wire form is a plain dict the
operator can store in status or an annotation and read back after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from modelscaler.engine.diagnosis.model import ConditionStatus, ConditionType, Finding, Recommendation
from modelscaler.engine.diagnosis.text import span


@dataclass(frozen=True, slots=True)
class ActiveCondition:
    """A True condition: when it turned True, when its evidence was last seen, and what it said then."""

    reason: str
    message: str
    since: float
    last_evidence: float
    recommendations: tuple[Recommendation, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The wire form (camelCase keys)."""
        return {
            "reason": self.reason,
            "message": self.message,
            "since": self.since,
            "lastEvidence": self.last_evidence,
            "recommendations": [r.to_dict() for r in self.recommendations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ActiveCondition | None:
        """Reads the wire form; None when it is malformed."""
        since, last = data.get("since"), data.get("lastEvidence")
        if not isinstance(since, int | float) or not isinstance(last, int | float):
            return None
        raw = data.get("recommendations")
        recommendations = tuple(
            Recommendation.from_dict(item)
            for item in (raw if isinstance(raw, list) else [])
            if isinstance(item, dict)
        )
        return cls(
            str(data.get("reason", "")),
            str(data.get("message", "")),
            float(since),
            float(last),
            recommendations,
        )


@dataclass(frozen=True, slots=True)
class DiagnosisState:
    """The True conditions by type; empty at first."""

    active: Mapping[ConditionType, ActiveCondition] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The wire form: {"Thrashing": {...}, ...}."""
        return {kind.value: condition.to_dict() for kind, condition in self.active.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> DiagnosisState:
        """Reads the wire form back; unknown types and malformed entries are dropped."""
        active: dict[ConditionType, ActiveCondition] = {}
        for key, value in (data or {}).items():
            if key in ConditionType.__members__.values() and isinstance(value, Mapping):
                condition = ActiveCondition.from_dict(value)
                if condition is not None:
                    active[ConditionType(key)] = condition
        return cls(active)


def settle(
    verdict: Finding, previous: ActiveCondition | None, now: float, clear_after: float
) -> tuple[Finding, ActiveCondition | None]:
    """Applies hysteresis to one rule's verdict: returns the finding to report and what to remember.

    Evidence present: True (since is kept from an earlier True that has not cleared
    meanwhile, e.g. while the operator was down). Evidence absent or
    unknown while True before: still True, with the last evidence, until clear_after
    has passed since that evidence was last seen; then the verdict as it is.
    """
    still_on = previous is not None and now - previous.last_evidence < clear_after
    if verdict.status is ConditionStatus.TRUE:
        since = previous.since if previous is not None and still_on else now
        remembered = ActiveCondition(verdict.reason, verdict.message, since, now, verdict.recommendations)
        return replace(verdict, since=since), remembered
    if previous is not None and still_on:
        note = (
            f"{previous.message} [evidence last seen {span(now - previous.last_evidence)} ago; clears after "
            f"{span(clear_after)} without it; now: {verdict.message}]"
        )
        held = Finding(
            verdict.type,
            ConditionStatus.TRUE,
            previous.reason,
            note,
            previous.recommendations,
            since=previous.since,
            held=True,
        )
        return held, previous
    return verdict, None
