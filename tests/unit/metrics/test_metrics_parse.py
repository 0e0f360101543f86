"""The parser, table-tested with raw bodies as Prometheus (or something in front of it) sends them."""

from __future__ import annotations

import json

import pytest

from modelscaler.metrics.outcomes import Unknown, UnknownKind
from modelscaler.metrics.parse import (
    ParseOptions,
    QueryFailed,
    QueryVector,
    parse_body,
    parse_client_error,
    staleness_check,
)

NOW = 1_700_000_000.0
OPTIONS = ParseOptions(("namespace", "modeldeployment"), now=NOW, stale_after=30.0)
KEY = ("ns", "md")


def vector(*series: tuple[dict[str, str], float, str]) -> str:
    result = [{"metric": labels, "value": [ts, value]} for labels, ts, value in series]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


LABELS = {"namespace": "ns", "modeldeployment": "md"}
EXECUTION_ERROR = (
    '{"status":"error","errorType":"execution",'
    '"error":"vector cannot contain metrics with the same labelset"}'
)
TIMEOUT_ERROR = '{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}'
DUPLICATE = vector((LABELS, NOW, "1"), (LABELS, NOW, "2"))
NOT_A_LIST = json.dumps({"status": "success", "data": {"resultType": "vector", "result": {}}})
NATIVE = json.dumps(
    {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": LABELS, "histogram": [NOW, {"count": "1"}]}]},
    }
)

# (case, HTTP status, body, expected kind of the whole query or of KEY's reading, expected value)
CASES: list[tuple[str, int, str, UnknownKind | None, float | None]] = [
    ("value", 200, vector((LABELS, NOW, "4.5")), None, 4.5),
    ("zero is a value", 200, vector((LABELS, NOW, "0")), None, 0.0),
    ("empty vector", 200, vector(), UnknownKind.NO_DATA, None),
    ("other deployment only", 200, vector(({"namespace": "ns", "modeldeployment": "x"}, NOW, "1")),
     UnknownKind.NO_DATA, None),
    ("NaN", 200, vector((LABELS, NOW, "NaN")), UnknownKind.NOT_A_NUMBER, None),
    ("+Inf", 200, vector((LABELS, NOW, "+Inf")), UnknownKind.INFINITE, None),
    ("-Inf", 200, vector((LABELS, NOW, "-Inf")), UnknownKind.INFINITE, None),
    ("negative", 200, vector((LABELS, NOW, "-2")), UnknownKind.NEGATIVE, None),
    ("stale sample", 200, vector((LABELS, NOW - 31, "3")), UnknownKind.STALE, None),
    ("sample just fresh", 200, vector((LABELS, NOW - 29, "3")), None, 3.0),
    ("duplicate series", 200, DUPLICATE, UnknownKind.DUPLICATE_SERIES, None),
    ("unreadable value", 200, vector((LABELS, NOW, "lots")), UnknownKind.MALFORMED, None),
    ("bad request", 400,
     '{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \\"}\\""}',
     UnknownKind.HTTP_ERROR, None),
    ("execution error", 422,
     EXECUTION_ERROR,
     UnknownKind.HTTP_ERROR, None),
    ("query timeout", 503, TIMEOUT_ERROR,
     UnknownKind.HTTP_ERROR, None),
    ("proxy 502 html", 502, "<html><body>Bad Gateway</body></html>", UnknownKind.HTTP_ERROR, None),
    ("auth 401 empty", 401, "", UnknownKind.HTTP_ERROR, None),
    ("status error in a 200", 200, '{"status":"error","errorType":"internal","error":"boom"}',
     UnknownKind.PROMETHEUS_ERROR, None),
    ("not json", 200, "<html>login</html>", UnknownKind.MALFORMED, None),
    ("json list", 200, "[]", UnknownKind.MALFORMED, None),
    ("no data", 200, '{"status":"success"}', UnknownKind.MALFORMED, None),
    ("matrix", 200, json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": LABELS, "values": [[NOW, "1"]]}]}}), UnknownKind.WRONG_RESULT_TYPE, None),
    ("scalar", 200, json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [NOW, "1"]}}),
     UnknownKind.WRONG_RESULT_TYPE, None),
    ("string", 200, json.dumps({"status": "success", "data": {"resultType": "string", "result": [NOW, "x"]}}),
     UnknownKind.WRONG_RESULT_TYPE, None),
    ("result not a list", 200, NOT_A_LIST,
     UnknownKind.MALFORMED, None),
    ("series without value", 200,
     json.dumps({"status": "success", "data": {"resultType": "vector", "result": [{"metric": LABELS}]}}),
     UnknownKind.MALFORMED, None),
    ("native histogram sample", 200, NATIVE, UnknownKind.WRONG_RESULT_TYPE, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "status", "body", "kind", "value"), CASES, ids=[c[0] for c in CASES])
def test_answer_table(
    case: str, status: int, body: str, kind: UnknownKind | None, value: float | None
) -> None:
    result = parse_body("concurrency[60s]/generic", status, body, OPTIONS)
    reading = result.unknown if isinstance(result, QueryFailed) else result.reading(KEY)
    if kind is None:
        assert reading == value
        return
    assert isinstance(reading, Unknown), f"{case}: expected {kind}, got {reading!r}"
    assert reading.kind is kind
    # The reason names the query that failed, and never reads as a number.
    assert reading.query == "concurrency[60s]/generic"
    assert "concurrency[60s]/generic" in reading.reason


def test_http_error_reason_carries_prometheus_error() -> None:
    body = '{"status":"error","errorType":"bad_data","error":"parse error at char 5"}'
    result = parse_body("q", 400, body, OPTIONS)
    assert isinstance(result, QueryFailed)
    assert result.unknown.detail == "HTTP 400, bad_data: parse error at char 5"


def test_duplicate_only_poisons_its_own_key() -> None:
    other = {"namespace": "ns", "modeldeployment": "other"}
    result = parse_body("q", 200, vector((LABELS, NOW, "1"), (LABELS, NOW, "2"), (other, NOW, "7")), OPTIONS)
    assert isinstance(result, QueryVector)
    assert result.reading(("ns", "other")) == 7.0
    assert isinstance(result.reading(KEY), Unknown)


def test_negative_values_allowed_when_the_signal_can_be_negative() -> None:
    options = ParseOptions(("namespace", "modeldeployment"), NOW, 30.0, allow_negative=True)
    result = parse_body("q", 200, vector((LABELS, NOW, "-2")), options)
    assert isinstance(result, QueryVector)
    assert result.reading(KEY) == -2.0


def test_eval_time_is_the_newest_sample_time() -> None:
    other = {"namespace": "ns", "modeldeployment": "other"}
    result = parse_body("q", 200, vector((LABELS, NOW - 1, "1"), (other, NOW - 2, "1")), OPTIONS)
    assert isinstance(result, QueryVector)
    assert result.eval_time == NOW - 1


@pytest.mark.parametrize(
    ("message", "kind", "detail"),
    [
        (
            'HTTP Status Code 400 (b\'{"status":"error","errorType":"bad_data","error":"bad"}\')',
            UnknownKind.HTTP_ERROR,
            "HTTP 400, bad_data: bad",
        ),
        (
            "HTTP Status Code 503 (b'Service Unavailable')",
            UnknownKind.HTTP_ERROR,
            "HTTP 503, Service Unavailable",
        ),
        ("HTTP Status Code 401 (b'')", UnknownKind.HTTP_ERROR, "HTTP 401"),
        ("something else entirely", UnknownKind.HTTP_ERROR, "something else entirely"),
    ],
)
def test_client_error_messages(message: str, kind: UnknownKind, detail: str) -> None:
    result = parse_client_error("q", message, OPTIONS)
    assert isinstance(result, QueryFailed)
    assert result.unknown.kind is kind
    assert result.unknown.detail == detail


def test_staleness_check_uses_the_answer_evaluation_time() -> None:
    assert staleness_check("fresh", NOW - 5, NOW, 30.0) == 5.0
    stale = staleness_check("fresh", NOW - 95, NOW, 30.0)
    assert isinstance(stale, Unknown)
    assert stale.kind is UnknownKind.STALE
    assert "95 s old" in stale.detail
    missing = Unknown(UnknownKind.NO_DATA, "fresh")
    assert staleness_check("fresh", missing, NOW, 30.0) is missing
    no_eval = staleness_check("fresh", NOW, None, 30.0)
    assert isinstance(no_eval, Unknown)
