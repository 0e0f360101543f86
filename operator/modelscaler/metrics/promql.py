"""Pure PromQL builders: one query per signal, engine and window for all deployments at once.

Every query aggregates `by (namespace, modeldeployment)` and carries a namespace matcher
that the operator builds itself from the namespaces of the deployments it asks about
(escaped, never cluster-wide), plus `modeldeployment!=""` so that only the operator's
series are read. A tick therefore costs a fixed number of queries per distinct window
length and engine, whatever the number of deployments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from modelscaler.metrics.contract import ASYNC_QUEUE_GAUGE, Engine, EngineMetrics, SeriesLabels

_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")
_PROMQL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

STATUS_CLASS_LABEL = "status_class"
"""The label the volume query puts on its series: "1xx" … "5xx"."""


def quote(value: str) -> str:
    """`value` as a double-quoted PromQL string literal that means exactly `value`."""
    out: list[str] = []
    for char in value:
        if char in _PROMQL_ESCAPES:
            out.append(_PROMQL_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def regex_literal(value: str) -> str:
    """An RE2 pattern that matches exactly the text `value` (metacharacters escaped)."""
    out: list[str] = []
    for char in value:
        if char in _RE2_SPECIAL:
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{{{ord(char):x}}}")
        else:
            out.append(char)
    return "".join(out)


def format_duration(seconds: float) -> str:
    """A PromQL duration for `seconds` (whole seconds as `60s`, otherwise milliseconds)."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a window must be a positive number of seconds, not {seconds!r}")
    millis = round(seconds * 1000)
    if millis % 1000 == 0:
        return f"{millis // 1000}s"
    return f"{millis}ms"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which namespaces a query may read, and the labels that name a deployment's series."""

    namespaces: tuple[str, ...]
    labels: SeriesLabels = field(default_factory=SeriesLabels)

    @classmethod
    def of(cls, namespaces: Iterable[str], labels: SeriesLabels | None = None) -> Scope:
        """A scope over the given namespaces (deduplicated and sorted, so queries are stable)."""
        unique = tuple(sorted(set(namespaces)))
        if not unique:
            raise ValueError("a query scope needs at least one namespace")
        if any(not ns for ns in unique):
            raise ValueError("a namespace must not be empty")
        return cls(unique, labels or SeriesLabels())

    def matchers(self) -> str:
        """The label matchers every selector carries: namespace restriction and deployment label."""
        ns_label = self.labels.namespace
        if len(self.namespaces) == 1:
            ns_matcher = f"{ns_label}={quote(self.namespaces[0])}"
        else:
            pattern = "|".join(regex_literal(ns) for ns in self.namespaces)
            ns_matcher = f"{ns_label}=~{quote(pattern)}"
        return f'{ns_matcher},{self.labels.deployment}!=""'

    def selector(self, metric: str, extra_matcher: str | None = None) -> str:
        """`metric{<scope matchers>[,extra]}`."""
        extra = f",{extra_matcher}" if extra_matcher else ""
        return f"{metric}{{{self.matchers()}{extra}}}"


class Signal(StrEnum):
    """What a query measures. The values double as the keys of `spec.metrics` overrides."""

    CONCURRENCY = "concurrency"  # time-averaged requests in the server over a window
    ARRIVAL_RATE = "arrivalRate"  # requests arriving per second over a window
    SERVICE_TIME = "serviceTime"  # mean seconds in service (queue wait excluded) over a window
    IN_SERVICE = "inService"  # requests being served now
    WAITING = "waiting"  # requests queued in the server now, not yet in service
    LATENCY = "latency"  # end-to-end latency quantile over a window
    FIRST_BYTE = "timeToFirstByte"  # time to first byte / token quantile over a window
    VOLUME = "volumeByClass"  # requests per second by status class over a window
    REQUEST_SIZE = "requestSize"  # mean request size (bytes) over a window
    RESPONSE_SIZE = "responseSize"  # mean response size (bytes) over a window
    PROMPT_TOKENS = "promptTokensRate"  # prompt tokens per second over a window
    GENERATION_TOKENS = "generationTokensRate"  # generated tokens per second over a window
    ASYNC_QUEUE = "asyncQueueSize"  # async queue length now
    KV_CACHE = "kvCacheUsage"  # KV-cache usage now, 0..1, mean over pods
    FRESHNESS = "freshness"  # Unix time of the newest sample of the engine's presence series
    ERRORS = "errors"  # failed (5xx) requests per second; only from a spec override


WINDOWED = frozenset(
    {
        Signal.CONCURRENCY,
        Signal.ARRIVAL_RATE,
        Signal.SERVICE_TIME,
        Signal.LATENCY,
        Signal.FIRST_BYTE,
        Signal.VOLUME,
        Signal.REQUEST_SIZE,
        Signal.RESPONSE_SIZE,
        Signal.PROMPT_TOKENS,
        Signal.GENERATION_TOKENS,
        Signal.ERRORS,
    }
)
QUANTILED = frozenset({Signal.LATENCY, Signal.FIRST_BYTE})


def _sum(scope: Scope, inner: str) -> str:
    return f"sum by ({scope.labels.group}) ({inner})"


def _plus_optional(base: str, optional: str) -> str:
    """`base + optional`, where a deployment lacking `optional` keeps `base` unchanged."""
    return f"({base} + ({optional} or 0 * {base}))"


def _minus_optional(base: str, optional: str) -> str:
    """`base - optional`, where a deployment lacking `optional` keeps `base` unchanged."""
    return f"({base} - ({optional} or 0 * {base}))"


def _rate_sum(scope: Scope, metric: str, window: str) -> str:
    return _sum(scope, f"rate({scope.selector(metric)}[{window}])")


def _mean_of_histogram(scope: Scope, histogram: str, window: str) -> str:
    total = _rate_sum(scope, histogram + "_sum", window)
    count = _rate_sum(scope, histogram + "_count", window)
    return f"({total} / {count})"


def _population_sum(scope: Scope, metrics: EngineMetrics, inner_fn: str, window: str | None) -> str:
    """Σ over the engine's population gauges (in service + waiting) of `inner_fn(gauge[window])`."""
    terms = []
    for gauge in metrics.population:
        sel = scope.selector(gauge)
        terms.append(_sum(scope, f"{inner_fn}({sel}[{window}])" if window else sel))
    if len(terms) == 1:
        return terms[0]
    return "(" + " + ".join(terms) + ")"


def concurrency(metrics: EngineMetrics, scope: Scope, window: float) -> str:
    """Time-averaged requests in the server (in service + waiting) over `window`.

    Generic servers: by Little's law `rate(duration_sum[w])` is exactly the time-averaged
    number of requests in flight, and does not read 0 between fast requests the way a
    sampled gauge does; servers exporting only the in-flight gauge fall back to its
    `avg_over_time`. vLLM / SGLang: `avg_over_time` of running + waiting.
    """
    w = format_duration(window)
    averaged = _population_sum(scope, metrics, "avg_over_time", w)
    if metrics.engine is Engine.GENERIC:
        little = _rate_sum(scope, metrics.latency_histogram + "_sum", w)
        return f"({little} or {averaged})"
    return averaged


def arrival_rate(metrics: EngineMetrics, scope: Scope, window: float) -> str:
    """Requests arriving per second over `window`: completions plus the growth of the requests
    in the server (the growth term matters during a cold start, when completions are capped by
    the replicas that stand and the rest piles up in queues). Never below zero."""
    w = format_duration(window)
    completions = _rate_sum(scope, metrics.latency_histogram + "_count", w)
    growth = f"({_population_sum(scope, metrics, 'delta', w)} / {window:g})"
    if metrics.engine is Engine.GENERIC:
        # The in-flight gauge is optional for generic servers: without it, completions only.
        return f"clamp_min({_plus_optional(completions, growth)}, 0)"
    return f"clamp_min({completions} + {growth}, 0)"


def service_time(metrics: EngineMetrics, scope: Scope, window: float) -> str:
    """Mean seconds a request spends in service (queue wait excluded) over `window`."""
    w = format_duration(window)
    if metrics.service_time_histogram:
        return _mean_of_histogram(scope, metrics.service_time_histogram, w)
    end_to_end = _mean_of_histogram(scope, metrics.latency_histogram, w)
    if metrics.queue_time_histogram:
        queued = _mean_of_histogram(scope, metrics.queue_time_histogram, w)
        return f"clamp_min({_minus_optional(end_to_end, queued)}, 0)"
    return end_to_end


def in_service(metrics: EngineMetrics, scope: Scope) -> str:
    """Requests being served right now (not waiting)."""
    if metrics.in_service:
        return _sum(scope, scope.selector(metrics.in_service))
    in_flight = _population_sum(scope, metrics, "", None)
    if metrics.waiting:
        return f"clamp_min({_minus_optional(in_flight, _sum(scope, scope.selector(metrics.waiting)))}, 0)"
    return in_flight


def waiting(metrics: EngineMetrics, scope: Scope) -> str | None:
    """Requests queued inside the servers right now, not yet in service."""
    if not metrics.waiting:
        return None
    return _sum(scope, scope.selector(metrics.waiting))


def quantile_of(histogram: str, scope: Scope, quantile: float, window: float) -> str:
    """`histogram_quantile` over the deployment's summed bucket rates."""
    if not 0 < quantile < 1:
        raise ValueError(f"a quantile must be in (0, 1), not {quantile!r}")
    w = format_duration(window)
    buckets = f"sum by ({scope.labels.group}, le) (rate({scope.selector(histogram + '_bucket')}[{w}]))"
    return f"histogram_quantile({quantile:g}, {buckets})"


def latency(metrics: EngineMetrics, scope: Scope, quantile: float, window: float) -> str:
    """End-to-end latency at `quantile` over `window`."""
    return quantile_of(metrics.latency_histogram, scope, quantile, window)


def first_byte(metrics: EngineMetrics, scope: Scope, quantile: float, window: float) -> str:
    """Time to first byte (generic) or first token (vLLM, SGLang) at `quantile` over `window`."""
    return quantile_of(metrics.first_byte_histogram, scope, quantile, window)


def volume_by_class(metrics: EngineMetrics, scope: Scope, window: float) -> str | None:
    """Requests per second by status class ("2xx", "5xx", …) over `window`."""
    if not (metrics.status_counter and metrics.status_label and metrics.status_class_regex):
        return None
    w = format_duration(window)
    rated = f"rate({scope.selector(metrics.status_counter, metrics.status_counter_filter)}[{w}])"
    classed = (
        f'label_replace({rated}, "{STATUS_CLASS_LABEL}", "${{1}}xx", '
        f"{quote(metrics.status_label)}, {quote(metrics.status_class_regex)})"
    )
    return f"sum by ({scope.labels.group}, {STATUS_CLASS_LABEL}) ({classed})"


def mean_size(histogram: str | None, scope: Scope, window: float) -> str | None:
    """Mean observed value of a size histogram over `window` (None when not exported)."""
    if not histogram:
        return None
    return _mean_of_histogram(scope, histogram, format_duration(window))


def counter_rate(counter: str | None, scope: Scope, window: float) -> str | None:
    """Per-second rate of a counter over `window` (None when not exported)."""
    if not counter:
        return None
    return _rate_sum(scope, counter, format_duration(window))


def async_queue(scope: Scope) -> str:
    """Async queue length (our contract's gauge, read for every engine)."""
    return _sum(scope, scope.selector(ASYNC_QUEUE_GAUGE))


def kv_cache_usage(metrics: EngineMetrics, scope: Scope) -> str | None:
    """Mean KV-cache usage (0..1) over the deployment's pods; the current name wins over the old."""
    if not metrics.kv_cache_usage:
        return None
    parts = [f"avg by ({scope.labels.group}) ({scope.selector(g)})" for g in metrics.kv_cache_usage]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def freshness(metrics: EngineMetrics, scope: Scope) -> str:
    """Unix time of each deployment's newest sample of the engine's presence series.

    The age of that sample against the answer's evaluation time tells a stale series
    (a frozen exporter, a target gone without staleness markers) from a live one.
    """
    parts = [f"max by ({scope.labels.group}) (timestamp({scope.selector(m)}))" for m in metrics.presence]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def detection(engines: Iterable[EngineMetrics], scope: Scope) -> str:
    """Which engines' presence series exist per deployment (one query for every engine)."""
    names = sorted({m for e in engines for m in e.presence})
    pattern = "|".join(regex_literal(n) for n in names)
    sel = f"{{__name__=~{quote(pattern)},{scope.matchers()}}}"
    return f"group by ({scope.labels.group}, __name__) ({sel})"


def build(
    signal: Signal,
    metrics: EngineMetrics,
    scope: Scope,
    window: float | None = None,
    quantile: float | None = None,
) -> str | None:
    """The PromQL for `signal` on `metrics`' engine, or None when that engine does not export it."""
    if signal in WINDOWED and window is None:
        raise ValueError(f"signal {signal} needs a window")
    if signal in QUANTILED and quantile is None:
        raise ValueError(f"signal {signal} needs a quantile")
    w = window or 0.0
    q = quantile or 0.0
    match signal:
        case Signal.CONCURRENCY:
            return concurrency(metrics, scope, w)
        case Signal.ARRIVAL_RATE:
            return arrival_rate(metrics, scope, w)
        case Signal.SERVICE_TIME:
            return service_time(metrics, scope, w)
        case Signal.IN_SERVICE:
            return in_service(metrics, scope)
        case Signal.WAITING:
            return waiting(metrics, scope)
        case Signal.LATENCY:
            return latency(metrics, scope, q, w)
        case Signal.FIRST_BYTE:
            return first_byte(metrics, scope, q, w)
        case Signal.VOLUME:
            return volume_by_class(metrics, scope, w)
        case Signal.REQUEST_SIZE:
            return mean_size(metrics.request_size_histogram, scope, w)
        case Signal.RESPONSE_SIZE:
            return mean_size(metrics.response_size_histogram, scope, w)
        case Signal.PROMPT_TOKENS:
            return counter_rate(metrics.prompt_tokens_counter, scope, w)
        case Signal.GENERATION_TOKENS:
            return counter_rate(metrics.generation_tokens_counter, scope, w)
        case Signal.ASYNC_QUEUE:
            return async_queue(scope)
        case Signal.KV_CACHE:
            return kv_cache_usage(metrics, scope)
        case Signal.FRESHNESS:
            return freshness(metrics, scope)
        case Signal.ERRORS:
            return None  # the built-in error rate comes from the volume by class
    raise AssertionError(f"unhandled signal {signal}")
