"""The batch planner and assembler: a fixed number of queries, and answers read per deployment."""

from __future__ import annotations

from typing import Any

import pytest

from modelscaler.metrics.batch import (
    DeploymentQuery,
    PlanOptions,
    QueryPlan,
    assemble,
    override_templates,
    plan_batch,
)
from modelscaler.metrics.contract import Engine, EngineChoice
from modelscaler.metrics.outcomes import Unknown, UnknownKind
from modelscaler.metrics.parse import QueryFailed, QueryResult, parse_result
from modelscaler.metrics.promql import Signal

NOW = 1_700_000_000.0
OPTIONS = PlanOptions(scrape_interval=1.0)


def fleet(count: int, engine: Engine = Engine.VLLM) -> tuple[list[DeploymentQuery], dict[Any, Engine]]:
    deployments = [DeploymentQuery(f"ns{i % 37}", f"md{i}") for i in range(count)]
    return deployments, {d.key: engine for d in deployments}


@pytest.mark.parametrize("engine", list(Engine))
def test_query_count_does_not_grow_with_deployments(engine: Engine) -> None:
    counts = {n: len(plan_batch(*fleet(n, engine), OPTIONS).queries) for n in (1, 100, 1000)}
    assert counts[1] == counts[100] == counts[1000]


def test_each_distinct_window_adds_only_the_windowed_queries() -> None:
    one, engines = fleet(10)
    base = len(plan_batch(one, engines, OPTIONS).queries)
    other = DeploymentQuery("nsx", "slow", stable_window=120)
    plan = plan_batch([*one, other], {**engines, other.key: Engine.VLLM}, OPTIONS)
    # concurrency, arrival, 4 latency and 2 TTFT quantiles, volume, 2 token rates at 120 s.
    assert len(plan.queries) - base == 11
    assert all(
        "[120s]" in name for name in set(plan.queries) - set(plan_batch(one, engines, OPTIONS).queries)
    )


def test_windows_shorter_than_two_scrapes_are_widened() -> None:
    d = DeploymentQuery("ns", "md", stable_window=60, burst_window=6)
    plan = plan_batch([d], {d.key: Engine.GENERIC}, PlanOptions(scrape_interval=15))
    assert plan.deployments[d.key].windows == (60, 30, 300)
    assert "concurrency[30s]/generic" in plan.queries


def test_namespaces_of_one_engine_share_a_query() -> None:
    a = DeploymentQuery("team-a", "x")
    b = DeploymentQuery("team-b", "y")
    plan = plan_batch([a, b], {a.key: Engine.SGLANG, b.key: Engine.SGLANG}, OPTIONS)
    assert 'namespace=~"team-a|team-b"' in plan.queries["concurrency[60s]/sglang"].promql


def vector(
    query: str, *rows: tuple[str, str, float], extra: dict[str, str] | None = None, ts: float = NOW
) -> QueryResult:
    """A parsed answer with (namespace, deployment, value) rows, like custom_query returns them."""
    result: list[dict[str, object]] = []
    for ns, md, value in rows:
        labels: dict[str, str] = {"namespace": ns, "modeldeployment": md, **(extra or {})}
        result.append({"metric": labels, "value": [ts, repr(value)]})
    from modelscaler.metrics.parse import ParseOptions

    key_labels = ("namespace", "modeldeployment", *sorted(extra or {}))
    return parse_result(query, result, ParseOptions(key_labels, NOW, 2.0))


def answers_for(
    plan: QueryPlan, values: dict[str, float], ns: str = "ns", md: str = "md"
) -> dict[str, QueryResult]:
    """Answers every query of the plan: by query-name prefix from `values`; others empty."""
    out: dict[str, QueryResult] = {}
    for name in plan.queries:
        prefix = next((p for p in values if name.startswith(p)), None)
        if name.startswith("volumeByClass"):
            continue
        out[name] = vector(name, (ns, md, values[prefix])) if prefix else vector(name)
    return out


def test_assemble_reads_each_field_and_derives_arrival_concurrency_and_error_rate() -> None:
    d = DeploymentQuery("ns", "md", stable_window=60, burst_window=6)
    plan = plan_batch([d], {d.key: Engine.VLLM}, OPTIONS)
    answers = answers_for(
        plan,
        {
            "concurrency[60s]": 4.0,
            "concurrency[6s]": 9.0,
            "arrivalRate[60s]": 2.0,
            "arrivalRate[6s]": 5.0,
            "serviceTime": 1.5,
            "inService": 3.0,
            "waiting": 1.0,
            "latency[60s]@0.95": 2.5,
            "kvCacheUsage": 0.8,
            "freshness": NOW - 0.5,
            "asyncQueueSize": 12.0,
        },
    )
    volume = "volumeByClass[60s]/vllm"
    answers[volume] = parse_result(
        volume,
        [
            {
                "metric": {"namespace": "ns", "modeldeployment": "md", "status_class": c},
                "value": [NOW, str(v)],
            }
            for c, v in (("2xx", 9.0), ("5xx", 1.0))
        ],
        plan.queries[volume].parse_options(NOW, 2.0),
    )
    s = assemble(plan, answers, NOW)[d.key]
    assert (s.stable_concurrency, s.burst_concurrency) == (4.0, 9.0)
    assert s.arrival_concurrency_stable == pytest.approx(3.0)
    assert s.arrival_concurrency_burst == pytest.approx(7.5)
    assert (s.in_service, s.waiting, s.latency_p95, s.kv_cache_usage) == (3.0, 1.0, 2.5, 0.8)
    assert s.async_queue_size == 12.0
    assert s.volume_by_class == {"2xx": 9.0, "5xx": 1.0}
    assert s.error_rate == pytest.approx(0.1)
    assert s.sample_age == pytest.approx(0.5)
    assert s.engine is Engine.VLLM
    assert s.unknown["latency_p50"].kind is UnknownKind.NO_DATA
    obs = s.to_observation(ready_replicas=2, starting_replicas=1, current_replicas=3)
    assert (obs.stable_concurrency, obs.burst_concurrency, obs.in_service) == (4.0, 9.0, 3.0)
    assert obs.arrival_concurrency_stable == pytest.approx(3.0)
    # The queue and the service time reach the engine too (its backlog-drain term reads them).
    assert obs.waiting == 1.0
    assert obs.service_time == s.service_time
    assert obs.unknown_reason is None
    assert (obs.ready_replicas, obs.starting_replicas, obs.current_replicas, obs.time) == (2, 1, 3, NOW)


def test_stale_engine_series_make_every_engine_signal_unknown_but_not_the_async_queue() -> None:
    d = DeploymentQuery("ns", "md")
    plan = plan_batch([d], {d.key: Engine.VLLM}, OPTIONS)
    answers = answers_for(plan, {"concurrency": 4.0, "freshness": NOW - 60, "asyncQueueSize": 3.0})
    s = assemble(plan, answers, NOW)[d.key]
    assert s.stable_concurrency is None
    assert s.unknown["stable_concurrency"].kind is UnknownKind.STALE
    assert s.async_queue_size == 3.0
    obs = s.to_observation(1, 0, 1)
    assert obs.stable_concurrency is None
    assert obs.unknown_reason is not None
    assert "StaleData" in obs.unknown_reason


def test_a_failed_query_is_unknown_for_every_deployment_it_covers() -> None:
    deployments, engines = fleet(5, Engine.GENERIC)
    plan = plan_batch(deployments, engines, OPTIONS)
    failure = QueryFailed(Unknown(UnknownKind.CONNECTION_REFUSED, "x", "connection refused"))
    signals = assemble(plan, dict.fromkeys(plan.queries, failure), NOW)
    for s in signals.values():
        assert s.stable_concurrency is None
        assert s.unknown["stable_concurrency"].kind is UnknownKind.CONNECTION_REFUSED
        assert not s.scaling_known


def test_missing_answers_are_unknown_never_zero() -> None:
    d = DeploymentQuery("ns", "md")
    plan = plan_batch([d], {d.key: Engine.GENERIC}, OPTIONS)
    s = assemble(plan, {}, NOW)[d.key]
    numeric = [
        f for f in s.__dataclass_fields__ if f.endswith(("concurrency", "rate", "_p50", "_p95", "usage"))
    ]
    assert numeric
    for f in numeric:
        assert getattr(s, f) is None
        assert f in s.unknown


def test_zero_arrivals_need_no_service_time() -> None:
    d = DeploymentQuery("ns", "md")
    plan = plan_batch([d], {d.key: Engine.GENERIC}, OPTIONS)
    answers = answers_for(plan, {"arrivalRate": 0.0, "freshness": NOW, "concurrency": 0.0})
    s = assemble(plan, answers, NOW)[d.key]
    assert s.arrival_concurrency_stable == 0.0
    assert s.stable_concurrency == 0.0
    assert s.unknown["service_time"].kind is UnknownKind.NO_DATA


def test_unresolved_engine_is_unknown_yet_the_async_queue_is_still_read() -> None:
    d = DeploymentQuery("ns", "md", engine=EngineChoice.AUTO)
    reason = Unknown(UnknownKind.ENGINE_UNKNOWN, "engineDetection", "no series")
    plan = plan_batch([d], {d.key: reason}, OPTIONS)
    assert list(plan.queries) == ["asyncQueueSize"]
    s = assemble(plan, {"asyncQueueSize": vector("asyncQueueSize", ("ns", "md", 5.0))}, NOW)[d.key]
    assert s.async_queue_size == 5.0
    assert s.unknown["stable_concurrency"] is reason


def test_overrides_are_confined_and_shared_by_identical_templates() -> None:
    template = "sum by (namespace, modeldeployment) (rate(gw_requests_in_flight[$window]))"
    a = DeploymentQuery("team-a", "x", overrides={"concurrency": template})
    b = DeploymentQuery("team-a", "y", overrides={"concurrency": template})
    c = DeploymentQuery("team-b", "z", overrides={"concurrency": template})
    engines = {k: Engine.GENERIC for k in (a.key, b.key, c.key)}
    plan = plan_batch([a, b, c], engines, OPTIONS)
    overrides = {n: q for n, q in plan.queries.items() if n.startswith("override:")}
    # One per namespace and window (stable and burst), shared by x and y.
    assert len(overrides) == 4
    team_a = [q for q in overrides.values() if 'namespace="team-a"' in q.promql]
    assert len(team_a) == 2
    assert all(set(q.owners) == {a.key, b.key} for q in team_a)
    assert all('namespace="team-b"' not in q.promql for q in team_a)


def test_a_single_unlabelled_override_series_belongs_to_its_only_owner() -> None:
    d = DeploymentQuery("team-a", "x", overrides={"queueSize": "sum(gateway_queue_length)"})
    plan = plan_batch([d], {d.key: Engine.GENERIC}, OPTIONS)
    (name,) = [n for n in plan.queries if n.startswith("override:")]
    assert plan.queries[name].promql == '(sum(gateway_queue_length{namespace="team-a"}))'
    from modelscaler.metrics.parse import ParseOptions

    answer = parse_result(
        name, [{"metric": {}, "value": [NOW, "17"]}], ParseOptions(("namespace", "modeldeployment"), NOW, 2.0)
    )
    s = assemble(plan, {name: answer}, NOW)[d.key]
    assert s.async_queue_size == 17.0


def test_an_invalid_override_is_unknown_for_that_field_only() -> None:
    d = DeploymentQuery("ns", "md", overrides={"kv_cache_usage": 'x"} or vector(1) #'})
    plan = plan_batch([d], {d.key: Engine.VLLM}, OPTIONS)
    s = assemble(plan, answers_for(plan, {"concurrency": 2.0, "freshness": NOW}), NOW)[d.key]
    assert s.unknown["kv_cache_usage"].kind is UnknownKind.INVALID_OVERRIDE
    assert s.stable_concurrency == 2.0


def test_latency_override_gives_buckets_and_the_operator_computes_quantiles() -> None:
    d = DeploymentQuery("ns", "md", overrides={"latency": "rate(gw_latency_bucket[$window])"})
    plan = plan_batch([d], {d.key: Engine.GENERIC}, OPTIONS)
    texts = sorted(q.promql for n, q in plan.queries.items() if n.startswith("override:latency"))
    assert texts[0] == (
        "histogram_quantile(0.5, sum by (namespace, modeldeployment, le) "
        '(rate(gw_latency_bucket{namespace="ns"}[60s])))'
    )
    assert len(texts) == 4


def test_override_keys() -> None:
    assert override_templates({"arrival_rate": "a", "kvCacheUsage": "b"}) == {
        Signal.ARRIVAL_RATE: "a",
        Signal.KV_CACHE: "b",
    }
    with pytest.raises(ValueError, match="unknown metrics override"):
        DeploymentQuery("ns", "md", overrides={"nonsense": "x"})
