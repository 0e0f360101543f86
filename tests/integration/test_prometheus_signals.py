"""Signals computed by the real Prometheus from series we serve, for each engine; failures typed.

A small exposition server on 127.0.0.1 plays the model servers' pods (one URL path per
pod). Counters grow at rates we choose, gauges hold values we choose; Prometheus scrapes
them through file_sd with the production relabelling, and the source's batch must give
back what we served (rates within a few percent, gauges exactly). A stopped Prometheus,
a missing series and a stale series each give their typed Unknown, never 0.
"""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from tests.support.cluster import Prometheus

from modelscaler.metrics.batch import DeploymentQuery
from modelscaler.metrics.contract import META_POD_LABEL, Engine, EngineChoice
from modelscaler.metrics.outcomes import UnknownKind
from modelscaler.metrics.settings import PrometheusSettings
from modelscaler.metrics.signals import Signals
from modelscaler.metrics.source import PrometheusSource

STABLE, BURST = 10.0, 4.0
Body = Callable[[float], str]


class Exposition:
    """Serves exposition text per URL path, computed from the time of the scrape."""

    def __init__(self) -> None:
        self.bodies: dict[str, Body] = {}
        exposition = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exposition.bodies.get(self.path)
                data = body(time.time()).encode() if body else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Pod:
    namespace: str
    deployment: str
    name: str
    body: Body


def target_groups(exposition: Exposition, pods: list[Pod]) -> list[dict[str, object]]:
    """file_sd groups with the labels Kubernetes discovery would set for these pods."""
    groups: list[dict[str, object]] = []
    for pod in pods:
        path = f"/{pod.namespace}/{pod.name}/metrics"
        exposition.bodies[path] = pod.body
        groups.append(
            {
                "targets": [exposition.address],
                "labels": {
                    "__metrics_path__": path,
                    "__meta_kubernetes_namespace": pod.namespace,
                    "__meta_kubernetes_pod_name": pod.name,
                    META_POD_LABEL: pod.deployment,
                },
            }
        )
    return groups


def histogram(name: str, count: float, seconds_each: float, buckets: tuple[float, ...]) -> str:
    lines = [f'{name}_bucket{{le="{le}"}} {count if seconds_each <= le else 0.0}' for le in buckets]
    lines += [
        f'{name}_bucket{{le="+Inf"}} {count}',
        f"{name}_sum {count * seconds_each}",
        f"{name}_count {count}",
    ]
    return "\n".join(lines)


BUCKETS = (0.25, 1.0, 5.0)
START = time.time()


def generic_pod(rate: float, duration: float, queued: float, in_flight: float, waiting: float) -> Body:
    """A generic server: `rate` requests/s of `duration` s (of which `queued` s waiting), 10 % 5xx."""

    def body(now: float) -> str:
        n = rate * (now - START)
        return "\n".join(
            [
                histogram("modelscaler_request_duration_seconds", n, duration, BUCKETS),
                histogram("modelscaler_request_queue_seconds", n, queued, BUCKETS),
                f'modelscaler_requests_total{{code="200"}} {0.9 * n}',
                f'modelscaler_requests_total{{code="503"}} {0.1 * n}',
                f"modelscaler_requests_in_flight {in_flight}",
                f"modelscaler_requests_waiting {waiting}",
                "modelscaler_async_queue_size 7",
                "",
            ]
        )

    return body


def vllm_pod(rate: float, running: float, waiting: float, kv: float) -> Body:
    def body(now: float) -> str:
        n = rate * (now - START)
        return "\n".join(
            [
                f'vllm:num_requests_running{{model_name="m"}} {running}',
                f'vllm:num_requests_waiting{{model_name="m"}} {waiting}',
                f'vllm:kv_cache_usage_perc{{model_name="m"}} {kv}',
                histogram("vllm:e2e_request_latency_seconds", n, 2.0, BUCKETS),
                histogram("vllm:request_inference_time_seconds", n, 1.5, BUCKETS),
                histogram("vllm:time_to_first_token_seconds", n, 0.2, BUCKETS),
                f'vllm:prompt_tokens_total{{model_name="m"}} {100 * n}',
                f'http_requests_total{{handler="/v1/completions",method="POST",status="2xx"}} {n}',
                f'http_requests_total{{handler="/metrics",method="GET",status="2xx"}} {5 * n}',
                "",
            ]
        )

    return body


def sglang_pod(rate: float, running: float, queued: float, usage: float) -> Body:
    def body(now: float) -> str:
        n = rate * (now - START)
        return "\n".join(
            [
                f"sglang:num_running_reqs {running}",
                f"sglang:num_queue_reqs {queued}",
                f"sglang:token_usage {usage}",
                histogram("sglang:e2e_request_latency_seconds", n, 2.0, BUCKETS),
                histogram("sglang:queue_time_seconds", n, 0.5, BUCKETS),
                "",
            ]
        )

    return body


def gauge_only_pod(in_flight: float) -> Body:
    """A generic server that exports only the in-flight gauge (no duration histogram)."""
    return lambda _now: f"modelscaler_requests_in_flight {in_flight}\n"


def frozen_vllm_pod(sample_time: float) -> Body:
    """A vLLM exporter stuck on old samples (explicit timestamps: no staleness markers)."""
    millis = int(sample_time * 1000)
    return lambda _now: f"vllm:num_requests_running 3 {millis}\nvllm:num_requests_waiting 1 {millis}\n"


@dataclass(frozen=True)
class Served:
    signals: dict[tuple[str, str], Signals]
    ns: str
    query_count: int


@pytest.fixture(scope="module")
def served(prometheus: Prometheus) -> Iterator[Served]:
    """Serves one deployment per engine (+ a stale one), waits two stable windows, collects once."""
    ns = f"sig-{uuid.uuid4().hex[:6]}"
    exposition = Exposition()
    pods = [
        Pod(ns, "gen", "gen-0", generic_pod(rate=4.0, duration=0.5, queued=0.1, in_flight=3, waiting=1)),
        Pod(ns, "gen", "gen-1", generic_pod(rate=2.0, duration=0.5, queued=0.1, in_flight=1, waiting=0)),
        Pod(ns, "llm", "llm-0", vllm_pod(rate=1.0, running=3, waiting=2, kv=0.6)),
        Pod(ns, "llm", "llm-1", vllm_pod(rate=1.0, running=1, waiting=0, kv=0.2)),
        Pod(ns, "sg", "sg-0", sglang_pod(rate=1.0, running=4, queued=1, usage=0.3)),
        Pod(ns, "gauge", "gauge-0", gauge_only_pod(in_flight=2.5)),
        Pod(ns, "frozen", "frozen-0", frozen_vllm_pod(time.time() - 60)),
    ]
    group = f"signals-{ns}"
    prometheus.set_targets(group, target_groups(exposition, pods))
    settings = PrometheusSettings(url=prometheus.url, scrape_interval_seconds=prometheus.scrape_interval)
    deployments = [
        DeploymentQuery(ns, md, stable_window=STABLE, burst_window=BURST, service_window=STABLE)
        for md in ("gen", "llm", "sg", "gauge", "frozen", "absent")
    ]
    try:
        time.sleep(2 * STABLE + 3 * prometheus.scrape_interval)
        with PrometheusSource(settings) as source:
            batch = source.collect(deployments)
        yield Served(dict(batch.signals), ns, batch.query_count)
    finally:
        prometheus.remove_targets(group)
        exposition.close()


def test_engines_are_detected_from_the_series(served: Served) -> None:
    engines = {md: served.signals[(served.ns, md)].engine for md in ("gen", "llm", "sg", "gauge", "frozen")}
    assert engines == {
        "gen": Engine.GENERIC,
        "llm": Engine.VLLM,
        "sg": Engine.SGLANG,
        "gauge": Engine.GENERIC,
        "frozen": Engine.VLLM,
    }


def test_generic_signals_match_what_was_served(served: Served) -> None:
    s = served.signals[(served.ns, "gen")]
    # Little's law: 6 requests/s of 0.5 s each are 3 in flight on average.
    assert s.stable_concurrency == pytest.approx(3.0, rel=0.05)
    assert s.burst_concurrency == pytest.approx(3.0, rel=0.1)
    assert s.request_rate == pytest.approx(6.0, rel=0.05)
    assert s.service_time == pytest.approx(0.4, rel=0.02)  # 0.5 s end to end minus 0.1 s queued
    assert s.arrival_concurrency_stable == pytest.approx(2.4, rel=0.05)
    assert s.in_service == 3.0  # (3 - 1) + (1 - 0): in flight minus waiting
    assert s.waiting == 1.0
    assert s.async_queue_size == 14.0
    # All requests took 0.5 s, inside the (0.25, 1] bucket: Prometheus interpolates linearly.
    assert s.latency_p50 == pytest.approx(0.25 + 0.75 * 0.5, rel=0.01)
    assert s.latency_p99 == pytest.approx(0.25 + 0.75 * 0.99, rel=0.01)
    assert s.volume_by_class is not None
    assert s.volume_by_class["2xx"] == pytest.approx(5.4, rel=0.05)
    assert s.volume_by_class["5xx"] == pytest.approx(0.6, rel=0.05)
    assert s.error_rate == pytest.approx(0.1, rel=0.01)
    assert s.sample_age is not None
    assert s.sample_age <= 2 * 1.0 + 1.0
    assert s.to_observation(2, 0, 2).unknown_reason is None


def test_vllm_signals_match_what_was_served(served: Served) -> None:
    s = served.signals[(served.ns, "llm")]
    assert s.stable_concurrency == pytest.approx(6.0)  # running 3 + 1, waiting 2 + 0
    assert s.burst_concurrency == pytest.approx(6.0)
    assert s.in_service == 4.0
    assert s.waiting == 2.0
    assert s.kv_cache_usage == pytest.approx(0.4)
    assert s.request_rate == pytest.approx(2.0, rel=0.05)
    assert s.service_time == pytest.approx(1.5, rel=0.01)
    assert s.arrival_concurrency_stable == pytest.approx(3.0, rel=0.05)
    assert s.prompt_tokens_rate == pytest.approx(200.0, rel=0.05)
    assert s.volume_by_class is not None
    assert s.volume_by_class.keys() == {"2xx"}  # the /metrics handler is not inference volume
    assert s.volume_by_class["2xx"] == pytest.approx(2.0, rel=0.05)
    assert s.ttfb_p50 is not None
    assert 0.0 < s.ttfb_p50 <= 0.25


def test_sglang_signals_match_what_was_served(served: Served) -> None:
    s = served.signals[(served.ns, "sg")]
    assert s.stable_concurrency == pytest.approx(5.0)
    assert s.in_service == 4.0
    assert s.waiting == 1.0
    assert s.kv_cache_usage == pytest.approx(0.3)
    assert s.request_rate == pytest.approx(1.0, rel=0.05)
    assert s.service_time == pytest.approx(1.5, rel=0.01)  # 2 s end to end minus 0.5 s queued
    assert s.latency_p50 == pytest.approx(1.0 + 4.0 * 0.5, rel=0.01)  # inside the (1, 5] bucket
    assert s.volume_by_class is None
    assert s.unknown["volume_by_class"].kind is UnknownKind.NOT_EXPORTED


def test_a_generic_server_with_only_the_in_flight_gauge(served: Served) -> None:
    s = served.signals[(served.ns, "gauge")]
    assert s.stable_concurrency == pytest.approx(2.5)  # avg_over_time of the gauge
    assert s.in_service == pytest.approx(2.5)  # no waiting gauge: all in flight are in service
    assert s.request_rate is None
    assert s.unknown["request_rate"].kind is UnknownKind.NO_DATA
    assert s.latency_p50 is None


def test_a_stale_series_is_unknown_never_zero(served: Served) -> None:
    s = served.signals[(served.ns, "frozen")]
    assert s.stable_concurrency is None
    assert s.unknown["stable_concurrency"].kind is UnknownKind.STALE
    assert s.to_observation(1, 0, 1).stable_concurrency is None


def test_a_missing_series_is_unknown_never_zero(served: Served) -> None:
    s = served.signals[(served.ns, "absent")]
    assert s.stable_concurrency is None
    assert s.unknown["stable_concurrency"].kind is UnknownKind.ENGINE_UNKNOWN
    assert s.async_queue_size is None
    assert s.unknown["async_queue_size"].kind is UnknownKind.NO_DATA


def test_an_explicit_engine_without_series_reads_no_data(prometheus: Prometheus, served: Served) -> None:
    settings = PrometheusSettings(url=prometheus.url, scrape_interval_seconds=prometheus.scrape_interval)
    d = DeploymentQuery(served.ns, "absent", engine=EngineChoice.GENERIC, stable_window=STABLE)
    with PrometheusSource(settings) as source:
        s = source.collect([d]).signals[d.key]
    assert s.stable_concurrency is None
    assert s.unknown["stable_concurrency"].kind is UnknownKind.NO_DATA


def test_an_override_cannot_read_another_namespace(prometheus: Prometheus, served: Served) -> None:
    settings = PrometheusSettings(url=prometheus.url, scrape_interval_seconds=prometheus.scrape_interval)
    stealing = (
        f'label_replace(sum by (modeldeployment) (vllm:num_requests_running{{namespace="{served.ns}"}}), '
        '"namespace", "elsewhere", "", "")'
    )
    own = "sum by (namespace, modeldeployment) (avg_over_time(vllm:num_requests_running[$window]))"
    thief = DeploymentQuery("elsewhere", "llm", engine=EngineChoice.VLLM, overrides={"concurrency": stealing})
    honest = DeploymentQuery(served.ns, "llm", stable_window=STABLE, overrides={"concurrency": own})
    with PrometheusSource(settings) as source:
        signals = source.collect([thief, honest]).signals
    assert signals[thief.key].stable_concurrency is None
    assert signals[thief.key].unknown["stable_concurrency"].kind is UnknownKind.NO_DATA
    assert signals[honest.key].stable_concurrency == pytest.approx(4.0)  # running only, as the override says


def test_the_batch_is_a_fixed_handful_of_queries(served: Served) -> None:
    # detection + 3 engines x their signals + the async queue: independent of deployments.
    assert served.query_count < 70


def test_a_stopped_prometheus_is_unknown_never_zero(prometheus: Prometheus, served: Served) -> None:
    settings = PrometheusSettings(
        url=prometheus.url, scrape_interval_seconds=prometheus.scrape_interval, timeout_seconds=2
    )
    d = DeploymentQuery(served.ns, "gen", engine=EngineChoice.GENERIC, stable_window=STABLE)
    prometheus.stop()
    try:
        with PrometheusSource(settings) as source:
            batch = source.collect([d])
    finally:
        prometheus.start()
    s = batch.signals[d.key]
    assert s.stable_concurrency is None
    assert s.unknown["stable_concurrency"].kind is UnknownKind.CONNECTION_REFUSED
    assert s.to_observation(2, 0, 2).unknown_reason is not None
