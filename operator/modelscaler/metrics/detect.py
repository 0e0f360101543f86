"""`engine: auto`: which engine a deployment runs, from the series that exist. Cached.

One query per tick at most (`group by (namespace, modeldeployment, __name__)` over the
engines' presence series) covers every deployment that needs a check: those never
resolved, and the resolved ones whose answer is older than `recheck_after`. A failed
check keeps the last answer; a deployment that never resolved stays unknown, with the
reason, until its series appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from modelscaler.metrics import promql
from modelscaler.metrics.batch import DeploymentKey, DeploymentQuery, PlannedQuery
from modelscaler.metrics.contract import DETECTION_ORDER, ENGINE_METRICS, Engine, EngineChoice, SeriesLabels
from modelscaler.metrics.outcomes import Unknown, UnknownKind
from modelscaler.metrics.parse import QueryFailed, QueryResult

DETECTION_QUERY = "engineDetection"
DEFAULT_RECHECK_AFTER = 300.0


def engines_in_answer(readings: Iterable[tuple[str, ...]]) -> dict[DeploymentKey, Engine]:
    """Per deployment, the engine whose presence series it exports (the engines' own win).

    `readings` are the series keys (namespace, modeldeployment, __name__) of the answer.
    """
    by_metric = {name: m.engine for m in ENGINE_METRICS.values() for name in m.presence}
    seen: dict[DeploymentKey, set[Engine]] = {}
    for namespace, deployment, metric in readings:
        engine = by_metric.get(metric)
        if engine is not None and deployment:
            seen.setdefault((namespace, deployment), set()).add(engine)
    return {key: next(e for e in DETECTION_ORDER if e in engines) for key, engines in seen.items()}


@dataclass(frozen=True, slots=True)
class _Entry:
    engine: Engine | None
    checked_at: float
    reason: Unknown | None = None


class EngineDetector:
    """Resolves `engine: auto` from Prometheus answers, with a cache re-checked now and then."""

    def __init__(
        self, recheck_after: float = DEFAULT_RECHECK_AFTER, labels: SeriesLabels | None = None
    ) -> None:
        self.recheck_after = recheck_after
        self.labels = labels or SeriesLabels()
        self._cache: dict[DeploymentKey, _Entry] = {}

    def due(self, deployments: Iterable[DeploymentQuery], now: float) -> list[DeploymentQuery]:
        """The `auto` deployments that need a (re)check at `now`."""
        out = []
        for d in deployments:
            if d.engine is not EngineChoice.AUTO:
                continue
            entry = self._cache.get(d.key)
            if entry is None or entry.engine is None or now - entry.checked_at >= self.recheck_after:
                out.append(d)
        return out

    def query(self, due: Iterable[DeploymentQuery]) -> PlannedQuery | None:
        """The detection query for `due` (None when nothing is due)."""
        namespaces = {d.namespace for d in due}
        if not namespaces:
            return None
        scope = promql.Scope.of(namespaces, self.labels)
        text = promql.detection(ENGINE_METRICS.values(), scope)
        return PlannedQuery(
            DETECTION_QUERY, text, (self.labels.namespace, self.labels.deployment, "__name__")
        )

    def record(self, due: Iterable[DeploymentQuery], result: QueryResult, now: float) -> None:
        """Stores what the detection answer says about the `due` deployments."""
        if isinstance(result, QueryFailed):
            for d in due:
                previous = self._cache.get(d.key)
                if previous is None or previous.engine is None:
                    self._cache[d.key] = _Entry(None, now, result.unknown)
            return
        found = engines_in_answer(result.readings)
        for d in due:
            engine = found.get(d.key)
            reason = None
            if engine is None:
                reason = Unknown(
                    UnknownKind.ENGINE_UNKNOWN,
                    DETECTION_QUERY,
                    f"no series of a known engine for {d.namespace}/{d.name}",
                )
            self._cache[d.key] = _Entry(engine, now, reason)

    def forget(self, keep: Iterable[DeploymentKey]) -> None:
        """Drops cache entries of deployments no longer asked about."""
        wanted = set(keep)
        for key in [k for k in self._cache if k not in wanted]:
            del self._cache[key]

    def engines(self, deployments: Iterable[DeploymentQuery]) -> Mapping[DeploymentKey, Engine | Unknown]:
        """Each deployment's engine: the spec's choice, or the cached detection, or why unknown."""
        out: dict[DeploymentKey, Engine | Unknown] = {}
        for d in deployments:
            if d.engine is not EngineChoice.AUTO:
                out[d.key] = Engine(d.engine.value)
                continue
            entry = self._cache.get(d.key)
            if entry is not None and entry.engine is not None:
                out[d.key] = entry.engine
            elif entry is not None and entry.reason is not None:
                out[d.key] = entry.reason
            else:
                out[d.key] = Unknown(UnknownKind.ENGINE_UNKNOWN, DETECTION_QUERY, "not checked yet")
        return out
