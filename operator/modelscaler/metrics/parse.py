"""Turns whatever Prometheus answered into typed outcomes, per deployment. Pure.

A whole query either failed (`QueryFailed`: HTTP error, timeout, refused connection,
`status: error`, malformed JSON, wrong result type) or gave a vector, which becomes
one `Reading` per series key: the value, or `Unknown` for NaN, ±Inf, negative values,
samples older than the stale limit and keys seen twice. A key missing from the answer
reads as `Unknown(NO_DATA)` through `QueryVector.reading`. Nothing here is ever turned
into zero.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from modelscaler.metrics.outcomes import Reading, Unknown, UnknownKind

SeriesKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueryFailed:
    """The whole query failed: every deployment it covers is unknown for the same reason."""

    unknown: Unknown


@dataclass(frozen=True, slots=True)
class QueryVector:
    """A vector answer: a reading per series key, and the evaluation time Prometheus used."""

    name: str
    readings: Mapping[SeriesKey, Reading] = field(default_factory=dict)
    eval_time: float | None = None

    def reading(self, key: SeriesKey) -> Reading:
        """The key's reading, or Unknown(NO_DATA) when the answer has no such series."""
        found = self.readings.get(key)
        if found is None:
            return Unknown(UnknownKind.NO_DATA, self.name, "no series for " + "/".join(key))
        return found


QueryResult = QueryFailed | QueryVector


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """How to read one query's vector.

    key_labels: the labels that identify a series (e.g. namespace, modeldeployment[, class]).
    now: the caller's clock (Unix seconds) when the answer arrived; samples older than
    `now - stale_after` are stale. allow_negative: the signal may be below zero.
    """

    key_labels: tuple[str, ...]
    now: float
    stale_after: float
    allow_negative: bool = False


def parse_body(name: str, status_code: int, body: str | bytes, options: ParseOptions) -> QueryResult:
    """Reads a raw HTTP answer of /api/v1/query (status code and body as sent)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not 200 <= status_code < 300:
        return QueryFailed(Unknown(UnknownKind.HTTP_ERROR, name, _http_detail(status_code, document, text)))
    if not isinstance(document, dict):
        return QueryFailed(Unknown(UnknownKind.MALFORMED, name, "answer is not a JSON object"))
    if document.get("status") != "success":
        return QueryFailed(Unknown(UnknownKind.PROMETHEUS_ERROR, name, _error_text(document)))
    data = document.get("data")
    if not isinstance(data, dict):
        return QueryFailed(Unknown(UnknownKind.MALFORMED, name, "answer has no data object"))
    result_type = data.get("resultType")
    if result_type != "vector":
        return QueryFailed(
            Unknown(UnknownKind.WRONG_RESULT_TYPE, name, f"expected a vector, got {result_type!r}")
        )
    return parse_result(name, data.get("result"), options)


def parse_result(name: str, result: object, options: ParseOptions) -> QueryResult:
    """Reads the `data.result` list of an instant query (what `custom_query` returns)."""
    if not isinstance(result, list):
        return QueryFailed(Unknown(UnknownKind.MALFORMED, name, "result is not a list"))
    if result and not all(isinstance(item, dict) for item in result):
        # A scalar or string answer is a bare [time, "value"] pair.
        return QueryFailed(Unknown(UnknownKind.WRONG_RESULT_TYPE, name, "expected a vector, got a scalar"))
    readings: dict[SeriesKey, Reading] = {}
    seen: set[SeriesKey] = set()
    eval_time: float | None = None
    for item in result:
        assert isinstance(item, dict)
        if "values" in item or "histogram" in item or "histograms" in item:
            kind = "a matrix" if "values" in item else "a native histogram"
            return QueryFailed(Unknown(UnknownKind.WRONG_RESULT_TYPE, name, f"expected floats, got {kind}"))
        labels = item.get("metric")
        sample = item.get("value")
        if not isinstance(labels, dict) or not isinstance(sample, list) or len(sample) != 2:
            return QueryFailed(Unknown(UnknownKind.MALFORMED, name, "series without metric or value"))
        key = tuple(str(labels.get(label, "")) for label in options.key_labels)
        if key in seen:
            readings[key] = Unknown(UnknownKind.DUPLICATE_SERIES, name, f"{'/'.join(key)} appears twice")
            continue
        seen.add(key)
        try:
            timestamp = float(sample[0])
            value = float(sample[1])
        except (TypeError, ValueError):
            readings[key] = Unknown(UnknownKind.MALFORMED, name, f"unreadable sample {sample!r}")
            continue
        eval_time = timestamp if eval_time is None else max(eval_time, timestamp)
        readings[key] = _judge(name, key, timestamp, value, options)
    return QueryVector(name, readings, eval_time)


def _judge(name: str, key: SeriesKey, timestamp: float, value: float, options: ParseOptions) -> Reading:
    where = "/".join(key)
    if math.isnan(value):
        return Unknown(UnknownKind.NOT_A_NUMBER, name, f"{where} is NaN")
    if math.isinf(value):
        return Unknown(UnknownKind.INFINITE, name, f"{where} is {'+' if value > 0 else '-'}Inf")
    if value < 0 and not options.allow_negative:
        return Unknown(UnknownKind.NEGATIVE, name, f"{where} is {value:g}")
    age = options.now - timestamp
    if age > options.stale_after:
        return Unknown(
            UnknownKind.STALE, name, f"{where} sample is {age:.0f} s old (limit {options.stale_after:g} s)"
        )
    return value


def _error_text(document: Mapping[str, object]) -> str:
    error_type = document.get("errorType")
    error = document.get("error")
    if error_type or error:
        return f"{error_type or 'error'}: {error or ''}".strip()
    return f"status {document.get('status')!r}"


def _http_detail(status_code: int, document: object, text: str) -> str:
    if isinstance(document, dict) and (document.get("error") or document.get("errorType")):
        return f"HTTP {status_code}, {_error_text(document)}"
    snippet = " ".join(text.split())[:200]
    return f"HTTP {status_code}" + (f", {snippet}" if snippet else "")


_CLIENT_ERROR = re.compile(r"HTTP Status Code (\d+) \((b(['\"]).*\3)\)", re.DOTALL)


def parse_client_error(name: str, message: str, options: ParseOptions) -> QueryResult:
    """Reads prometheus-api-client's error for a non-200 answer ("HTTP Status Code 400 (b'…')")."""
    match = _CLIENT_ERROR.search(message)
    if match is None:
        return QueryFailed(Unknown(UnknownKind.HTTP_ERROR, name, message[:200]))
    try:
        body = ast.literal_eval(match.group(2))
    except (ValueError, SyntaxError):
        body = b""
    if not isinstance(body, bytes):
        body = b""
    return parse_body(name, int(match.group(1)), body, options)


def staleness_check(
    name: str, newest_sample: Reading, eval_time: float | None, stale_after: float
) -> Reading:
    """Judges a freshness reading (the Unix time of a deployment's newest sample).

    Returns the sample's age in seconds, or Unknown(STALE) when it is older than
    `stale_after` measured against the answer's own evaluation time (no clock skew).
    """
    if isinstance(newest_sample, Unknown):
        return newest_sample
    if eval_time is None:
        return Unknown(UnknownKind.MALFORMED, name, "no evaluation time in the answer")
    age = eval_time - newest_sample
    if age > stale_after:
        return Unknown(UnknownKind.STALE, name, f"newest sample is {age:.0f} s old (limit {stale_after:g} s)")
    return max(age, 0.0)
