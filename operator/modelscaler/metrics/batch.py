"""One tick's batch, pure: which queries to run for a set of deployments, and how to read them back.

`plan_batch` groups the deployments by engine and window length and builds one query per
(signal, engine, window, quantile) over the union of their namespaces, plus one query per
distinct rendered override. `assemble` turns the answers into a `Signals` per deployment.
The number of queries depends on the engines and distinct windows in use, never on the
number of deployments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from modelscaler.metrics import promql
from modelscaler.metrics.contract import ENGINE_METRICS, Engine, EngineChoice, SeriesLabels
from modelscaler.metrics.outcomes import Reading, Unknown, UnknownKind
from modelscaler.metrics.overrides import OverrideError, render_override
from modelscaler.metrics.parse import ParseOptions, QueryFailed, QueryResult, QueryVector, staleness_check
from modelscaler.metrics.promql import STATUS_CLASS_LABEL, Signal
from modelscaler.metrics.signals import Signals

DeploymentKey = tuple[str, str]  # (namespace, name)

DEFAULT_MIN_SERVICE_WINDOW = 300.0
"""Mean service time is averaged over at least this long: its noise otherwise shows in sizing."""


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    """One deployment the operator wants signals for.

    overrides: `spec.metrics`, its key (camelCase as on the wire, or snake_case) to a
    PromQL template (see overrides.py and OVERRIDE_KEYS). service_window: the window of the mean service
    time; None means max(stable_window, 300 s).
    """

    namespace: str
    name: str
    engine: EngineChoice = EngineChoice.AUTO
    stable_window: float = 60.0
    burst_window: float = 6.0
    service_window: float | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        override_templates(self.overrides)  # refuses unknown keys at construction

    @property
    def key(self) -> DeploymentKey:
        """(namespace, name)."""
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Where a Signals field comes from: a signal, which window, which quantile."""

    field: str
    signal: Signal
    window: str | None = None  # "stable" | "burst" | "service"
    quantile: float | None = None


FIELD_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("stable_concurrency", Signal.CONCURRENCY, "stable"),
    FieldSpec("burst_concurrency", Signal.CONCURRENCY, "burst"),
    FieldSpec("request_rate", Signal.ARRIVAL_RATE, "stable"),
    FieldSpec("request_rate_burst", Signal.ARRIVAL_RATE, "burst"),
    FieldSpec("service_time", Signal.SERVICE_TIME, "service"),
    FieldSpec("in_service", Signal.IN_SERVICE),
    FieldSpec("waiting", Signal.WAITING),
    FieldSpec("latency_p50", Signal.LATENCY, "stable", 0.5),
    FieldSpec("latency_p90", Signal.LATENCY, "stable", 0.9),
    FieldSpec("latency_p95", Signal.LATENCY, "stable", 0.95),
    FieldSpec("latency_p99", Signal.LATENCY, "stable", 0.99),
    FieldSpec("ttfb_p50", Signal.FIRST_BYTE, "stable", 0.5),
    FieldSpec("ttfb_p95", Signal.FIRST_BYTE, "stable", 0.95),
    FieldSpec("volume_by_class", Signal.VOLUME, "stable"),
    FieldSpec("request_size_mean", Signal.REQUEST_SIZE, "stable"),
    FieldSpec("response_size_mean", Signal.RESPONSE_SIZE, "stable"),
    FieldSpec("prompt_tokens_rate", Signal.PROMPT_TOKENS, "stable"),
    FieldSpec("generation_tokens_rate", Signal.GENERATION_TOKENS, "stable"),
    FieldSpec("async_queue_size", Signal.ASYNC_QUEUE),
    FieldSpec("kv_cache_usage", Signal.KV_CACHE),
    FieldSpec("errors_per_second", Signal.ERRORS, "stable"),
)

OVERRIDE_KEYS: dict[str, Signal] = {
    "concurrency": Signal.CONCURRENCY,
    "arrivalRate": Signal.ARRIVAL_RATE,
    "serviceTime": Signal.SERVICE_TIME,
    "latency": Signal.LATENCY,  # bucket rates by le; the quantiles are computed around it
    "requestRate": Signal.VOLUME,  # requests per second with a status_class label ("2xx", ...)
    "errors": Signal.ERRORS,  # 5xx requests per second; error_rate = errors / total volume
    "queueSize": Signal.ASYNC_QUEUE,
    "kvCacheUsage": Signal.KV_CACHE,
}
"""The keys of `spec.metrics` and the signal each one replaces."""

ONLY_FROM_OVERRIDE = frozenset({Signal.ERRORS})


def override_templates(overrides: Mapping[str, str]) -> dict[Signal, str]:
    """`spec.metrics` keyed by signal; snake_case keys (arrival_rate) are read as camelCase."""
    out: dict[Signal, str] = {}
    for key, template in overrides.items():
        head, *rest = key.split("_")
        camel = head + "".join(part.title() for part in rest)
        signal = OVERRIDE_KEYS.get(camel)
        if signal is None:
            raise ValueError(f"unknown metrics override {key!r}; known: {', '.join(OVERRIDE_KEYS)}")
        out[signal] = template
    return out


ENGINE_FREE = frozenset({Signal.ASYNC_QUEUE})  # read whatever the engine, never gated by freshness


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Settings of the planner: series labels and the scrape interval (stale limit, minimum window)."""

    labels: SeriesLabels = field(default_factory=SeriesLabels)
    scrape_interval: float = 15.0
    min_service_window: float = DEFAULT_MIN_SERVICE_WINDOW

    @property
    def stale_after(self) -> float:
        """A sample older than two scrape intervals is stale."""
        return 2 * self.scrape_interval

    def effective_window(self, window: float) -> float:
        """A rate needs two samples: windows shorter than two scrape intervals are widened."""
        return max(window, 2 * self.scrape_interval)


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    """One PromQL query of the batch and how to read its answer."""

    name: str
    promql: str
    key_labels: tuple[str, ...]
    owners: tuple[DeploymentKey, ...] = ()  # set for overrides: the deployments that asked

    def parse_options(self, now: float, stale_after: float) -> ParseOptions:
        """How to parse this query's answer."""
        return ParseOptions(self.key_labels, now, stale_after)


@dataclass(frozen=True, slots=True)
class FieldSource:
    """A field's query (by name), or the Unknown it is known to be without asking."""

    query: str | None = None
    unknown: Unknown | None = None
    gated: bool = False  # unknown whenever the engine's series are missing or stale
    override: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """How to read one deployment's signals from the batch's answers."""

    deployment: DeploymentQuery
    engine: Engine | None
    windows: tuple[float, float, float]  # effective stable, burst, service windows
    fields: Mapping[str, FieldSource]
    freshness: FieldSource


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The batch: its queries, and per deployment where each field comes from."""

    queries: Mapping[str, PlannedQuery]
    deployments: Mapping[DeploymentKey, DeploymentPlan]
    options: PlanOptions


_GroupKey = tuple[Signal, Engine | None, float | None, float | None]


def _query_name(signal: Signal, engine: Engine | None, window: float | None, quantile: float | None) -> str:
    name = signal.value
    if window is not None:
        name += f"[{promql.format_duration(window)}]"
    if quantile is not None:
        name += f"@{quantile:g}"
    return name + (f"/{engine.value}" if engine else "")


def _windows(d: DeploymentQuery, options: PlanOptions) -> tuple[float, float, float]:
    stable = options.effective_window(d.stable_window)
    burst = options.effective_window(d.burst_window)
    service = options.effective_window(d.service_window or max(d.stable_window, options.min_service_window))
    return stable, burst, service


def plan_batch(
    deployments: Iterable[DeploymentQuery],
    engines: Mapping[DeploymentKey, Engine | Unknown],
    options: PlanOptions | None = None,
) -> QueryPlan:
    """The queries of one tick for `deployments`, whose engines are resolved in `engines`."""
    options = options or PlanOptions()
    labels = options.labels
    groups: dict[_GroupKey, set[str]] = {}
    overrides: dict[str, tuple[str, list[DeploymentKey]]] = {}  # promql -> (name, owners)
    # override signal of each planned override query (for its key labels)
    override_signals: dict[str, Signal] = {}
    staged: dict[DeploymentKey, tuple[DeploymentQuery, Engine | None, tuple[float, float, float]]] = {}
    field_refs: dict[DeploymentKey, dict[str, _GroupKey | str | Unknown]] = {}

    for d in deployments:
        engine_or_unknown = engines.get(d.key) or Unknown(
            UnknownKind.ENGINE_UNKNOWN, "detection", f"engine of {d.namespace}/{d.name} not resolved"
        )
        engine = engine_or_unknown if isinstance(engine_or_unknown, Engine) else None
        windows = _windows(d, options)
        staged[d.key] = (d, engine, windows)
        refs: dict[str, _GroupKey | str | Unknown] = {}
        templates = override_templates(d.overrides)
        for spec in FIELD_SPECS:
            window = {"stable": windows[0], "burst": windows[1], "service": windows[2]}.get(spec.window or "")
            template = templates.get(spec.signal)
            if template is not None:
                planned = _plan_override(d, spec, template, window, labels, overrides)
                if isinstance(planned, str):
                    override_signals[planned] = spec.signal
                refs[spec.field] = planned
            elif spec.signal in ONLY_FROM_OVERRIDE:
                continue
            elif spec.signal in ENGINE_FREE:
                gk: _GroupKey = (spec.signal, None, window, spec.quantile)
                groups.setdefault(gk, set()).add(d.namespace)
                refs[spec.field] = gk
            elif engine is None:
                assert isinstance(engine_or_unknown, Unknown)
                refs[spec.field] = engine_or_unknown
            else:
                gk = (spec.signal, engine, window, spec.quantile)
                groups.setdefault(gk, set()).add(d.namespace)
                refs[spec.field] = gk
        if engine is not None:
            fresh_key: _GroupKey = (Signal.FRESHNESS, engine, None, None)
            groups.setdefault(fresh_key, set()).add(d.namespace)
            refs["__freshness__"] = fresh_key
        else:
            assert isinstance(engine_or_unknown, Unknown)
            refs["__freshness__"] = engine_or_unknown
        field_refs[d.key] = refs

    queries: dict[str, PlannedQuery] = {}
    group_names: dict[_GroupKey, str | Unknown] = {}
    for gk, namespaces in groups.items():
        signal, engine, window, quantile = gk
        name = _query_name(signal, engine, window, quantile)
        scope = promql.Scope.of(namespaces, labels)
        metrics = ENGINE_METRICS[engine or Engine.GENERIC]
        text = promql.build(signal, metrics, scope, window, quantile)
        if text is None:
            group_names[gk] = Unknown(UnknownKind.NOT_EXPORTED, name, f"{engine} exports no {signal.value}")
            continue
        key_labels: tuple[str, ...] = (labels.namespace, labels.deployment)
        if signal is Signal.VOLUME:
            key_labels += (STATUS_CLASS_LABEL,)
        queries[name] = PlannedQuery(name, text, key_labels)
        group_names[gk] = name
    for text, (name, owners) in overrides.items():
        key_labels = (labels.namespace, labels.deployment)
        if override_signals[name] is Signal.VOLUME:
            key_labels += (STATUS_CLASS_LABEL,)
        queries[name] = PlannedQuery(name, text, key_labels, tuple(owners))

    plans: dict[DeploymentKey, DeploymentPlan] = {}
    for key, (d, engine, windows) in staged.items():
        fields: dict[str, FieldSource] = {}
        freshness = FieldSource()
        for field_name, field_ref in field_refs[key].items():
            source = _source(field_ref, group_names, field_name)
            if field_name == "__freshness__":
                freshness = source
            else:
                fields[field_name] = source
        plans[key] = DeploymentPlan(d, engine, windows, fields, freshness)
    return QueryPlan(queries, plans, options)


def _source(
    ref: _GroupKey | str | Unknown, group_names: Mapping[_GroupKey, str | Unknown], field_name: str
) -> FieldSource:
    if isinstance(ref, Unknown):
        return FieldSource(unknown=ref)
    if isinstance(ref, str):
        return FieldSource(query=ref, override=True)
    resolved = group_names[ref]
    if isinstance(resolved, Unknown):
        return FieldSource(unknown=resolved)
    gated = ref[0] not in ENGINE_FREE and field_name != "__freshness__"
    return FieldSource(query=resolved, gated=gated)


def _plan_override(
    d: DeploymentQuery,
    spec: FieldSpec,
    template: str,
    window: float | None,
    labels: SeriesLabels,
    overrides: dict[str, tuple[str, list[DeploymentKey]]],
) -> str | Unknown:
    label = f"override:{_query_name(spec.signal, None, window, spec.quantile)}"
    try:
        text = render_override(
            template, d.namespace, namespace_label=labels.namespace, window=window, quantile=spec.quantile
        )
    except OverrideError as error:
        return Unknown(UnknownKind.INVALID_OVERRIDE, f"{label}/{d.namespace}/{d.name}", str(error))
    if spec.signal is Signal.LATENCY and spec.quantile is not None:
        # The override gives bucket rates by le; the operator computes the quantile.
        text = f"histogram_quantile({spec.quantile:g}, sum by ({labels.group}, le) {text})"
    if text not in overrides:
        overrides[text] = (f"{label}/{d.namespace}#{len(overrides)}", [])
    overrides[text][1].append(d.key)
    return overrides[text][0]


def assemble(plan: QueryPlan, results: Mapping[str, QueryResult], now: float) -> dict[DeploymentKey, Signals]:
    """Each deployment's Signals from the batch's answers (a missing answer reads as unknown)."""
    out: dict[DeploymentKey, Signals] = {}
    stale_after = plan.options.stale_after
    for key, dp in plan.deployments.items():
        fresh = _freshness(dp.freshness, results, key, stale_after)
        values: dict[str, object] = {}
        unknown: dict[str, Unknown] = {}
        for field_name, source in dp.fields.items():
            if source.gated and isinstance(fresh, Unknown):
                unknown[field_name] = fresh
                continue
            if field_name == "volume_by_class":
                volume = _volume(source, results, key)
                if isinstance(volume, Unknown):
                    unknown[field_name] = volume
                else:
                    values[field_name] = volume
                continue
            reading = _read(source, plan.queries, results, key)
            if isinstance(reading, Unknown):
                unknown[field_name] = reading
            else:
                values[field_name] = reading
        _derive(values, unknown)
        stable, burst, service = dp.windows
        out[key] = Signals(
            namespace=key[0],
            name=key[1],
            time=now,
            engine=dp.engine,
            stable_window=stable,
            burst_window=burst,
            service_window=service,
            sample_age=None if isinstance(fresh, Unknown) else fresh,
            unknown=unknown,
            **values,  # type: ignore[arg-type]
        )
    return out


def _answer(results: Mapping[str, QueryResult], name: str) -> QueryResult:
    found = results.get(name)
    if found is None:
        return QueryFailed(Unknown(UnknownKind.MALFORMED, name, "the query was not answered"))
    return found


def _read(
    source: FieldSource,
    queries: Mapping[str, PlannedQuery],
    results: Mapping[str, QueryResult],
    key: DeploymentKey,
) -> Reading:
    if source.unknown is not None or source.query is None:
        return source.unknown or Unknown(UnknownKind.MALFORMED, "plan", "field without a source")
    answer = _answer(results, source.query)
    if isinstance(answer, QueryFailed):
        return answer.unknown
    reading = answer.reading(key)
    if source.override and isinstance(reading, Unknown) and reading.kind is UnknownKind.NO_DATA:
        reading = _single_unlabelled(answer, queries[source.query].owners, key) or reading
    return reading


def _single_unlabelled(
    answer: QueryVector, owners: tuple[DeploymentKey, ...], key: DeploymentKey
) -> Reading | None:
    """An override answering one series without deployment label belongs to its only owner."""
    if owners != (key,) or len(answer.readings) != 1:
        return None
    ((series_key, reading),) = answer.readings.items()
    return reading if series_key[1] == "" else None


def _freshness(
    source: FieldSource, results: Mapping[str, QueryResult], key: DeploymentKey, stale_after: float
) -> Reading:
    if source.unknown is not None or source.query is None:
        return source.unknown or Unknown(UnknownKind.ENGINE_UNKNOWN, "freshness", "no engine")
    answer = _answer(results, source.query)
    if isinstance(answer, QueryFailed):
        return answer.unknown
    return staleness_check(source.query, answer.reading(key), answer.eval_time, stale_after)


def _volume(
    source: FieldSource, results: Mapping[str, QueryResult], key: DeploymentKey
) -> dict[str, float] | Unknown:
    if source.unknown is not None or source.query is None:
        return source.unknown or Unknown(UnknownKind.MALFORMED, "plan", "field without a source")
    answer = _answer(results, source.query)
    if isinstance(answer, QueryFailed):
        return answer.unknown
    by_class: dict[str, float] = {}
    for series_key, reading in answer.readings.items():
        if series_key[:2] != key:
            continue
        if isinstance(reading, Unknown):
            return reading
        status_class = series_key[2] or "other"
        by_class[status_class] = by_class.get(status_class, 0.0) + reading
    if not by_class:
        return Unknown(UnknownKind.NO_DATA, source.query, "no series for " + "/".join(key))
    return by_class


def _product(
    rate: object, per_request: object, rate_unknown: Unknown | None, other_unknown: Unknown | None
) -> Reading:
    """rate x service time; a known zero rate needs no service time (no arrivals, no load)."""
    if isinstance(rate, float) and rate == 0.0:
        return 0.0
    if isinstance(rate, float) and isinstance(per_request, float):
        return rate * per_request
    found = rate_unknown or other_unknown
    assert found is not None
    return found


def _derive(values: dict[str, object], unknown: dict[str, Unknown]) -> None:
    """Fills the fields computed from others: arrival concurrencies and the error rate."""
    for target, rate_field in (
        ("arrival_concurrency_stable", "request_rate"),
        ("arrival_concurrency_burst", "request_rate_burst"),
    ):
        reading = _product(
            values.get(rate_field),
            values.get("service_time"),
            unknown.get(rate_field),
            unknown.get("service_time"),
        )
        if isinstance(reading, Unknown):
            unknown[target] = reading
        else:
            values[target] = reading
    volume = values.get("volume_by_class")
    errors = values.pop("errors_per_second", None)
    if "errors_per_second" in unknown:
        unknown["error_rate"] = unknown.pop("errors_per_second")
    elif isinstance(volume, dict):
        total = sum(volume.values())
        if total > 0:
            failed = errors if isinstance(errors, float) else volume.get("5xx", 0.0)
            values["error_rate"] = min(failed / total, 1.0)
        else:
            unknown["error_rate"] = Unknown(
                UnknownKind.NOT_A_NUMBER, "volumeByClass", "no requests in the window"
            )
    elif "volume_by_class" in unknown:
        unknown["error_rate"] = unknown["volume_by_class"]
