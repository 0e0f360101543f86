"""The Prometheus source: one batch of queries per tick, run in parallel threads, each with a timeout.

`collect` (sync) and `collect_async` (for the event loop: the batch runs in a worker
thread, so the loop never blocks) return a `Signals` per deployment. Every failure of a
query becomes a typed Unknown for the deployments it covers; nothing is ever read as 0.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass

import requests
import structlog
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from modelscaler.metrics.batch import (
    DeploymentKey,
    DeploymentQuery,
    PlannedQuery,
    PlanOptions,
    QueryPlan,
    assemble,
    plan_batch,
)
from modelscaler.metrics.detect import EngineDetector
from modelscaler.metrics.outcomes import Unknown, UnknownKind
from modelscaler.metrics.parse import ParseOptions, QueryFailed, QueryResult, parse_client_error, parse_result
from modelscaler.metrics.settings import PrometheusSettings, build_session
from modelscaler.metrics.signals import Signals

log = structlog.get_logger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class QueryTiming:
    """How long one query took and how it ended (for the operator's own metrics)."""

    name: str
    seconds: float
    failed: UnknownKind | None


@dataclass(frozen=True, slots=True)
class Batch:
    """One tick's outcome: the signals, and what the queries cost."""

    signals: Mapping[DeploymentKey, Signals]
    timings: Sequence[QueryTiming]
    seconds: float

    @property
    def query_count(self) -> int:
        """How many queries the tick sent (detection included)."""
        return len(self.timings)


def classify_exception(name: str, error: BaseException, now: float, stale_after: float) -> QueryFailed:
    """The typed outcome of a query that raised instead of answering."""
    if isinstance(error, PrometheusApiClientException):
        parsed = parse_client_error(name, str(error), ParseOptions((), now, stale_after))
        if isinstance(parsed, QueryFailed):
            return parsed
        return QueryFailed(Unknown(UnknownKind.HTTP_ERROR, name, "non-200 answer"))
    if isinstance(error, requests.Timeout | TimeoutError):
        return QueryFailed(Unknown(UnknownKind.TIMEOUT, name, "no answer within the timeout"))
    if isinstance(error, requests.ConnectionError):
        text = str(error)
        if "refused" in text.lower():
            return QueryFailed(Unknown(UnknownKind.CONNECTION_REFUSED, name, "connection refused"))
        return QueryFailed(Unknown(UnknownKind.UNREACHABLE, name, _short(text)))
    if isinstance(error, ValueError | KeyError | TypeError):
        return QueryFailed(
            Unknown(UnknownKind.MALFORMED, name, f"{type(error).__name__}: {_short(str(error))}")
        )
    return QueryFailed(
        Unknown(UnknownKind.UNREACHABLE, name, f"{type(error).__name__}: {_short(str(error))}")
    )


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


class PrometheusSource:
    """Signals for many deployments from one Prometheus, a fixed handful of queries per tick."""

    def __init__(self, settings: PrometheusSettings, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.options = PlanOptions(labels=settings.labels, scrape_interval=settings.scrape_interval_seconds)
        self.detector = EngineDetector(settings.engine_recheck_seconds, settings.labels)
        self._client = PrometheusConnect(
            url=settings.url,
            session=build_session(settings),
            # No retries inside a tick: the next tick is the retry, and a retry loop would
            # outlast the timeout. POST keeps long namespace matchers out of the URL.
            retry=Retry(total=0, connect=0, read=0, status=0, redirect=0, raise_on_status=False),
            timeout=settings.timeout_seconds,
            method="POST",
        )
        self._collect_lock = threading.Lock()  # one batch at a time: the detector cache is shared
        self._pool = ThreadPoolExecutor(
            max_workers=settings.max_parallel_queries, thread_name_prefix="prometheus-query"
        )

    def close(self) -> None:
        """Releases the HTTP session and the query threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def plan(self, deployments: Sequence[DeploymentQuery]) -> QueryPlan:
        """The main batch's plan for `deployments` with the engines known now (no I/O)."""
        return plan_batch(deployments, self.detector.engines(deployments), self.options)

    def collect(self, deployments: Sequence[DeploymentQuery]) -> Batch:
        """Runs one tick's batch (blocking: call from a worker thread or use collect_async)."""
        with self._collect_lock:
            return self._collect(deployments)

    def _collect(self, deployments: Sequence[DeploymentQuery]) -> Batch:
        started = time.monotonic()
        timings: list[QueryTiming] = []
        due = self.detector.due(deployments, self.clock())
        detection = self.detector.query(due)
        if detection is not None:
            answers = self.run([detection], timings)
            self.detector.record(due, answers[detection.name], self.clock())
        self.detector.forget(d.key for d in deployments)
        plan = self.plan(deployments)
        results = self.run(list(plan.queries.values()), timings)
        signals = assemble(plan, results, self.clock())
        seconds = time.monotonic() - started
        failed = [t for t in timings if t.failed is not None]
        # Every tick: debug when all answered; one warning per batch (not per query) when some failed.
        (log.warning if failed else log.debug)(
            "prometheus batch",
            deployments=len(deployments),
            queries=len(timings),
            failed=len(failed),
            first_failure=failed[0].name if failed else None,
            seconds=round(seconds, 3),
        )
        return Batch(signals, timings, seconds)

    async def collect_async(self, deployments: Sequence[DeploymentQuery]) -> Batch:
        """`collect` in a worker thread, so the event loop never waits on Prometheus."""
        return await asyncio.to_thread(self.collect, deployments)

    def batch_deadline(self, query_count: int) -> float:
        """Seconds a batch of `query_count` queries may take: each query its timeout, in as many
        rounds as the query threads need, plus a second of grace."""
        rounds = math.ceil(query_count / self.settings.max_parallel_queries)
        return self.settings.timeout_seconds * max(rounds, 1) + 1.0

    def run(
        self, queries: Iterable[PlannedQuery], timings: list[QueryTiming] | None = None
    ) -> dict[str, QueryResult]:
        """Runs `queries` in parallel threads, each with `timeout_seconds`; what has not answered by
        `batch_deadline` is a Timeout."""
        queries = list(queries)
        futures: dict[str, Future[tuple[QueryResult, float]]] = {
            q.name: self._pool.submit(self._run_one, q) for q in queries
        }
        done, _ = wait_futures(futures.values(), timeout=self.batch_deadline(len(queries)))
        results: dict[str, QueryResult] = {}
        for q in queries:
            future = futures[q.name]
            seconds = self.settings.timeout_seconds
            if future in done:
                results[q.name], seconds = future.result()
            else:
                future.cancel()
                results[q.name] = QueryFailed(
                    Unknown(UnknownKind.TIMEOUT, q.name, "no answer within the batch deadline")
                )
            if timings is not None:
                outcome = results[q.name]
                failed = outcome.unknown.kind if isinstance(outcome, QueryFailed) else None
                timings.append(QueryTiming(q.name, seconds, failed))
        return results

    def _run_one(self, query: PlannedQuery) -> tuple[QueryResult, float]:
        """One query in a worker thread: its typed result and how long it took."""
        stale_after = self.options.stale_after
        # Samples are judged against the time the query was sent: Prometheus evaluates it at
        # or after that moment, however long the answer then takes to arrive.
        sent = self.clock()
        started = time.monotonic()
        timeout = f"{self.settings.timeout_seconds:g}s"
        try:
            raw = self._client.custom_query(query.promql, params={"timeout": timeout})
        except Exception as error:  # every failure becomes a typed outcome below
            outcome = classify_exception(query.name, error, sent, stale_after)
            log.debug("prometheus query failed", query=query.name, reason=outcome.unknown.reason)
            return outcome, time.monotonic() - started
        result = parse_result(query.name, raw, query.parse_options(sent, stale_after))
        return result, time.monotonic() - started
