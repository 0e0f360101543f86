"""The source's transport failures over real loopback sockets: each a typed outcome, never 0.

A small HTTP server on 127.0.0.1 plays a misbehaving Prometheus (error JSON, slowness,
checking credentials); the real Prometheus is exercised in tests/integration.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelscaler.metrics.batch import DeploymentQuery
from modelscaler.metrics.contract import EngineChoice
from modelscaler.metrics.outcomes import UnknownKind
from modelscaler.metrics.parse import QueryFailed
from modelscaler.metrics.settings import PrometheusSettings
from modelscaler.metrics.source import Batch, PrometheusSource

Responder = Callable[[http.server.BaseHTTPRequestHandler], tuple[int, str]]

DEPLOYMENT = DeploymentQuery("ns", "md", engine=EngineChoice.GENERIC)


class FakePrometheus:
    """Answers every request with what `responder` returns; remembers the request headers."""

    def __init__(self) -> None:
        self.responder: Responder = lambda _: (200, "{}")
        self.seen_headers: list[dict[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                fake.seen_headers.append(dict(self.headers))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, body = fake.responder(self)
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: object) -> None:
                return

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops parallel connects
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.close()


def source_for(url: str, **settings: object) -> PrometheusSource:
    return PrometheusSource(
        PrometheusSettings.model_validate({"url": url, "timeout_seconds": 1.0, **settings})
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refused_connection_is_typed() -> None:
    with source_for(f"http://127.0.0.1:{free_port()}") as source:
        batch = source.collect([DEPLOYMENT])
    s = batch.signals[DEPLOYMENT.key]
    assert s.stable_concurrency is None
    assert s.unknown["stable_concurrency"].kind is UnknownKind.CONNECTION_REFUSED
    assert all(t.failed is UnknownKind.CONNECTION_REFUSED for t in batch.timings)


def test_http_error_json_is_typed_with_prometheus_message(fake: FakePrometheus) -> None:
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "invalid parameter 'query'"})
    fake.responder = lambda _: (400, body)
    with source_for(fake.url) as source:
        s = source.collect([DEPLOYMENT]).signals[DEPLOYMENT.key]
    unknown = s.unknown["stable_concurrency"]
    assert unknown.kind is UnknownKind.HTTP_ERROR
    assert unknown.detail == "HTTP 400, bad_data: invalid parameter 'query'"


def test_server_error_is_not_retried_within_the_tick(fake: FakePrometheus) -> None:
    fake.responder = lambda _: (503, "overloaded")
    with source_for(fake.url) as source:
        batch = source.collect([DEPLOYMENT])
    assert len(fake.seen_headers) == batch.query_count
    assert batch.signals[DEPLOYMENT.key].unknown["in_service"].kind is UnknownKind.HTTP_ERROR


def test_a_slow_answer_times_out(fake: FakePrometheus) -> None:
    def slow(_: http.server.BaseHTTPRequestHandler) -> tuple[int, str]:
        time.sleep(2.5)
        return 200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})

    fake.responder = slow
    with source_for(fake.url, max_parallel_queries=4) as source:
        queries = list(source.plan([DEPLOYMENT]).queries.values())[:4]
        results = source.run(queries)
    assert len(results) == 4
    for result in results.values():
        assert isinstance(result, QueryFailed)
        assert result.unknown.kind is UnknownKind.TIMEOUT


def test_bearer_token_and_tenant_header_are_sent_and_the_token_follows_rotation(
    fake: FakePrometheus, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("one")
    empty = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    fake.responder = lambda _: (200, empty)
    with source_for(fake.url, bearer_token_file=token, headers={"X-Scope-OrgID": "tenant-7"}) as source:
        source.collect([DEPLOYMENT])
        assert {h.get("Authorization") for h in fake.seen_headers} == {"Bearer one"}
        assert {h.get("X-Scope-OrgID") for h in fake.seen_headers} == {"tenant-7"}
        fake.seen_headers.clear()
        token.write_text("two-rotated")
        source.collect([DEPLOYMENT])
    assert {h.get("Authorization") for h in fake.seen_headers} == {"Bearer two-rotated"}


def test_collect_async_leaves_the_event_loop_free(fake: FakePrometheus) -> None:
    def slow(_: http.server.BaseHTTPRequestHandler) -> tuple[int, str]:
        time.sleep(0.3)
        return 200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})

    fake.responder = slow
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def tick_while_collecting(source: PrometheusSource) -> Batch:
        task = asyncio.create_task(ticker())
        batch = await source.collect_async([DEPLOYMENT])
        task.cancel()
        return batch

    with source_for(fake.url) as source:
        batch = asyncio.run(tick_while_collecting(source))
    assert batch.signals[DEPLOYMENT.key].unknown["stable_concurrency"].kind is UnknownKind.NO_DATA
    assert ticks > 5  # the loop kept running while the batch waited on the server


def test_a_slow_answer_is_judged_from_when_it_was_asked(fake: FakePrometheus) -> None:
    """A sample evaluated when the query arrived is fresh, even if the answer takes longer than
    two scrape intervals to come back."""

    def evaluated_then_slow(_: http.server.BaseHTTPRequestHandler) -> tuple[int, str]:
        evaluated_at = time.time()
        time.sleep(1.5)
        series = {"metric": {"namespace": "ns", "modeldeployment": "md"}, "value": [evaluated_at, "4"]}
        return 200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": [series]}})

    fake.responder = evaluated_then_slow
    with source_for(fake.url, scrape_interval_seconds=0.5, timeout_seconds=5.0) as source:
        (query,) = [q for q in source.plan([DEPLOYMENT]).queries.values() if q.name.startswith("inService")]
        (result,) = source.run([query]).values()
    assert not isinstance(result, QueryFailed)
    assert result.reading(DEPLOYMENT.key) == 4.0
