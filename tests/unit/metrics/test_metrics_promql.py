"""PromQL builders: golden strings, escaping, scopes and windows."""

from __future__ import annotations

import re

import pytest

from modelscaler.metrics import promql
from modelscaler.metrics.contract import GENERIC, SGLANG, VLLM, SeriesLabels, validate_label_name
from modelscaler.metrics.promql import Scope, Signal

NS1 = Scope.of(["ns1"])
TWO = Scope.of(["b", "a", "a"])


def test_scope_with_one_namespace_matches_it_exactly() -> None:
    assert NS1.matchers() == 'namespace="ns1",modeldeployment!=""'


def test_scope_with_several_namespaces_is_a_sorted_deduplicated_alternation() -> None:
    assert TWO.namespaces == ("a", "b")
    assert TWO.matchers() == 'namespace=~"a|b",modeldeployment!=""'


def test_scope_refuses_no_namespace_and_empty_names() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Scope.of([])
    with pytest.raises(ValueError, match="empty"):
        Scope.of(["ok", ""])


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ('a"b', r'"a\"b"'),
        ("back\\slash", r'"back\\slash"'),
        ("new\nline", r'"new\nline"'),
        ('"} or vector(1) #', r'"\"} or vector(1) #"'),
        ("bell\x07", r'"bell\u0007"'),
        ("ünïcode", '"ünïcode"'),
    ],
)
def test_quote_escapes_everything_that_could_end_the_string(value: str, literal: str) -> None:
    assert promql.quote(value) == literal


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("ns-1", "ns-1"),
        ("a.b", r"a\.b"),
        ("x|y", r"x\|y"),
        (".*", r"\.\*"),
        ("(a)[b]{c}^$+?\\", r"\(a\)\[b\]\{c\}\^\$\+\?\\"),
        ("tab\there", r"tab\x{9}here"),
    ],
)
def test_regex_literal_escapes_re2_metacharacters(value: str, pattern: str) -> None:
    escaped = promql.regex_literal(value)
    assert escaped == pattern
    # RE2 and Python agree on these escapes except \x{..}; check the rest matches literally.
    if "\\x{" not in escaped:
        assert re.fullmatch(escaped, value)


def test_namespace_regex_cannot_widen_to_other_namespaces() -> None:
    scope = Scope.of(["a|.*", 'b"} or vector(1) #'])
    # Each value is RE2-escaped, then string-escaped: "a|.*" cannot match other namespaces.
    assert scope.matchers() == (r'namespace=~"a\\|\\.\\*|b\"\\} or vector\\(1\\) #",modeldeployment!=""')


@pytest.mark.parametrize(
    ("seconds", "text"), [(60, "60s"), (6, "6s"), (0.5, "500ms"), (6.25, "6250ms"), (3600, "3600s")]
)
def test_durations(seconds: float, text: str) -> None:
    assert promql.format_duration(seconds) == text


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_durations_refuse_non_positive_and_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        promql.format_duration(bad)


def test_labels_are_validated() -> None:
    assert validate_label_name("model_deployment") == "model_deployment"
    for bad in ["1abc", "a-b", "a b", 'x"}', "", "__reserved"]:
        with pytest.raises(ValueError, match="label name"):
            validate_label_name(bad)
    with pytest.raises(ValueError, match="differ"):
        SeriesLabels(namespace="x", deployment="x")


SEL = '{namespace="ns1",modeldeployment!=""}'
BY = "sum by (namespace, modeldeployment)"


def test_generic_concurrency_is_littles_law_with_the_gauge_as_fallback() -> None:
    assert promql.concurrency(GENERIC, NS1, 60) == (
        f"({BY} (rate(modelscaler_request_duration_seconds_sum{SEL}[60s]))"
        f" or {BY} (avg_over_time(modelscaler_requests_in_flight{SEL}[60s])))"
    )


def test_vllm_concurrency_is_running_plus_waiting() -> None:
    assert promql.concurrency(VLLM, NS1, 6) == (
        f"({BY} (avg_over_time(vllm:num_requests_running{SEL}[6s]))"
        f" + {BY} (avg_over_time(vllm:num_requests_waiting{SEL}[6s])))"
    )


def test_sglang_concurrency_is_running_plus_queue() -> None:
    assert promql.concurrency(SGLANG, NS1, 60) == (
        f"({BY} (avg_over_time(sglang:num_running_reqs{SEL}[60s]))"
        f" + {BY} (avg_over_time(sglang:num_queue_reqs{SEL}[60s])))"
    )


def test_arrival_rate_adds_the_growth_of_requests_in_the_server() -> None:
    assert promql.arrival_rate(VLLM, NS1, 60) == (
        f"clamp_min({BY} (rate(vllm:e2e_request_latency_seconds_count{SEL}[60s])) + "
        f"(({BY} (delta(vllm:num_requests_running{SEL}[60s])) + "
        f"{BY} (delta(vllm:num_requests_waiting{SEL}[60s]))) / 60), 0)"
    )


def test_vllm_service_time_is_the_time_in_running_phase() -> None:
    assert promql.service_time(VLLM, NS1, 300) == (
        f"({BY} (rate(vllm:request_inference_time_seconds_sum{SEL}[300s])) / "
        f"{BY} (rate(vllm:request_inference_time_seconds_count{SEL}[300s])))"
    )


def test_generic_service_time_subtracts_the_optional_queue_time() -> None:
    e2e = (
        f"({BY} (rate(modelscaler_request_duration_seconds_sum{SEL}[300s])) / "
        f"{BY} (rate(modelscaler_request_duration_seconds_count{SEL}[300s])))"
    )
    queue = (
        f"({BY} (rate(modelscaler_request_queue_seconds_sum{SEL}[300s])) / "
        f"{BY} (rate(modelscaler_request_queue_seconds_count{SEL}[300s])))"
    )
    assert promql.service_time(GENERIC, NS1, 300) == f"clamp_min(({e2e} - ({queue} or 0 * {e2e})), 0)"


def test_latency_quantile_sums_buckets_by_deployment_and_le() -> None:
    assert promql.latency(SGLANG, NS1, 0.95, 60) == (
        "histogram_quantile(0.95, sum by (namespace, modeldeployment, le) "
        f"(rate(sglang:e2e_request_latency_seconds_bucket{SEL}[60s])))"
    )
    with pytest.raises(ValueError, match="quantile"):
        promql.latency(SGLANG, NS1, 95, 60)


def test_volume_by_class_from_status_codes() -> None:
    assert promql.volume_by_class(GENERIC, NS1, 60) == (
        "sum by (namespace, modeldeployment, status_class) "
        f'(label_replace(rate(modelscaler_requests_total{SEL}[60s]), "status_class", "${{1}}xx", '
        '"code", "([1-5])[0-9][0-9]"))'
    )
    assert promql.volume_by_class(SGLANG, NS1, 60) is None


def test_kv_cache_prefers_the_current_vllm_name() -> None:
    assert promql.kv_cache_usage(VLLM, NS1) == (
        "(avg by (namespace, modeldeployment) (vllm:kv_cache_usage_perc"
        f"{SEL}) or avg by (namespace, modeldeployment) (vllm:gpu_cache_usage_perc{SEL}))"
    )
    assert promql.kv_cache_usage(GENERIC, NS1) is None


def test_in_service_for_generic_is_in_flight_minus_waiting() -> None:
    in_flight = f"{BY} (modelscaler_requests_in_flight{SEL})"
    waiting = f"{BY} (modelscaler_requests_waiting{SEL})"
    assert promql.in_service(GENERIC, NS1) == f"clamp_min(({in_flight} - ({waiting} or 0 * {in_flight})), 0)"


def test_detection_asks_every_engine_at_once() -> None:
    assert promql.detection([GENERIC, VLLM, SGLANG], NS1) == (
        "group by (namespace, modeldeployment, __name__) "
        '({__name__=~"modelscaler_request_duration_seconds_count|modelscaler_requests_in_flight|'
        'sglang:num_running_reqs|vllm:num_requests_running",namespace="ns1",modeldeployment!=""})'
    )


def test_custom_series_labels_flow_into_every_query() -> None:
    scope = Scope.of(["x"], SeriesLabels(namespace="kube_ns", deployment="md"))
    text = promql.concurrency(VLLM, scope, 60)
    assert "sum by (kube_ns, md)" in text
    assert '{kube_ns="x",md!=""}' in text
    assert "namespace" not in text


@pytest.mark.parametrize("signal", list(Signal))
@pytest.mark.parametrize("metrics", [GENERIC, VLLM, SGLANG], ids=lambda m: m.engine.value)
def test_every_built_query_is_scoped_to_the_namespaces(signal: Signal, metrics: object) -> None:
    from modelscaler.metrics.contract import EngineMetrics

    assert isinstance(metrics, EngineMetrics)
    text = promql.build(signal, metrics, TWO, window=60, quantile=0.5)
    if text is None:
        return
    # Every selector of the query carries the namespace matcher.
    selectors = re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}", text)
    assert selectors
    for selector in selectors:
        assert 'namespace=~"a|b",modeldeployment!=""' in selector


def test_windowed_signals_need_a_window() -> None:
    with pytest.raises(ValueError, match="window"):
        promql.build(Signal.CONCURRENCY, GENERIC, NS1)
