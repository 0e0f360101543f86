"""engine: auto — resolved from the series that exist, cached, re-checked, kept across a failed check."""

from __future__ import annotations

from modelscaler.metrics.batch import DeploymentQuery
from modelscaler.metrics.contract import Engine, EngineChoice
from modelscaler.metrics.detect import DETECTION_QUERY, EngineDetector, engines_in_answer
from modelscaler.metrics.outcomes import Unknown, UnknownKind
from modelscaler.metrics.parse import ParseOptions, QueryFailed, QueryResult, parse_result

NOW = 1_700_000_000.0


def answer(*rows: tuple[str, str, str]) -> QueryResult:
    result = [
        {"metric": {"namespace": ns, "modeldeployment": md, "__name__": name}, "value": [NOW, "1"]}
        for ns, md, name in rows
    ]
    return parse_result(
        DETECTION_QUERY, result, ParseOptions(("namespace", "modeldeployment", "__name__"), NOW, 30)
    )


def test_each_engine_is_recognised_by_its_presence_series() -> None:
    found = engines_in_answer(
        [
            ("a", "gen", "modelscaler_request_duration_seconds_count"),
            ("a", "gauge-only", "modelscaler_requests_in_flight"),
            ("a", "llm", "vllm:num_requests_running"),
            ("b", "sg", "sglang:num_running_reqs"),
            ("b", "", "vllm:num_requests_running"),  # no deployment label: ignored
            ("b", "other", "unrelated_metric"),
        ]
    )
    assert found == {
        ("a", "gen"): Engine.GENERIC,
        ("a", "gauge-only"): Engine.GENERIC,
        ("a", "llm"): Engine.VLLM,
        ("b", "sg"): Engine.SGLANG,
    }


def test_an_engine_behind_a_generic_proxy_is_the_engine() -> None:
    found = engines_in_answer(
        [("a", "x", "modelscaler_request_duration_seconds_count"), ("a", "x", "vllm:num_requests_running")]
    )
    assert found == {("a", "x"): Engine.VLLM}


def test_detector_checks_auto_deployments_once_then_after_the_recheck_period() -> None:
    auto = DeploymentQuery("a", "x")
    fixed = DeploymentQuery("a", "y", engine=EngineChoice.SGLANG)
    detector = EngineDetector(recheck_after=300)
    assert detector.due([auto, fixed], NOW) == [auto]
    query = detector.query([auto])
    assert query is not None
    assert 'namespace="a"' in query.promql
    detector.record([auto], answer(("a", "x", "vllm:num_requests_running")), NOW)
    assert detector.engines([auto, fixed]) == {auto.key: Engine.VLLM, fixed.key: Engine.SGLANG}
    assert detector.due([auto, fixed], NOW + 299) == []
    assert detector.due([auto, fixed], NOW + 300) == [auto]
    assert detector.query([]) is None


def test_unresolved_deployments_are_rechecked_every_tick_and_say_why() -> None:
    auto = DeploymentQuery("a", "x")
    detector = EngineDetector()
    detector.record([auto], answer(), NOW)
    reading = detector.engines([auto])[auto.key]
    assert isinstance(reading, Unknown)
    assert reading.kind is UnknownKind.ENGINE_UNKNOWN
    assert detector.due([auto], NOW + 1) == [auto]


def test_a_failed_check_keeps_the_last_answer() -> None:
    auto = DeploymentQuery("a", "x")
    detector = EngineDetector(recheck_after=10)
    detector.record([auto], answer(("a", "x", "sglang:num_running_reqs")), NOW)
    failure = QueryFailed(Unknown(UnknownKind.TIMEOUT, DETECTION_QUERY, "slow"))
    detector.record([auto], failure, NOW + 20)
    assert detector.engines([auto]) == {auto.key: Engine.SGLANG}
    new = DeploymentQuery("a", "new")
    detector.record([new], failure, NOW + 20)
    reading = detector.engines([new])[new.key]
    assert isinstance(reading, Unknown)
    assert reading.kind is UnknownKind.TIMEOUT


def test_forget_drops_deployments_no_longer_asked_about() -> None:
    auto = DeploymentQuery("a", "x")
    detector = EngineDetector()
    detector.record([auto], answer(("a", "x", "vllm:num_requests_running")), NOW)
    detector.forget([])
    reading = detector.engines([auto])[auto.key]
    assert isinstance(reading, Unknown)
