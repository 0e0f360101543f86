"""The Prometheus source: one batch of queries per tick, run in parallel threads, each with a timeout.

`collect` (sync) and `collect_async` (for the event loop: the batch runs in a worker
thread, so the loop never blocks) return a `Signals` per deployment. Every failure of a
query becomes a typed Unknown for the deployments it covers; nothing is ever read as 0.
"""

from __future__ import annotations

import asyncio
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
        log.info(
            "prometheus batch",
            deployments=len(deployments),
            queries=len(timings),
            failed=len(failed),
            seconds=round(seconds, 3),
        )
        return Batch(signals, timings, seconds)

    async def collect_async(self, deployments: Sequence[DeploymentQuery]) -> Batch:
        """`collect` in a worker thread, so the event loop never waits on Prometheus."""
        return await asyncio.to_thread(self.collect, deployments)

    def run(
        self, queries: Iterable[PlannedQuery], timings: list[QueryTiming] | None = None
    ) -> dict[str, QueryResult]:
        """Runs `queries` in parallel; each has `timeout_seconds` (plus a second of grace) to answer."""
        queries = list(queries)
        started = {q.name: time.monotonic() for q in queries}
        futures: dict[str, Future[QueryResult]] = {
            q.name: self._pool.submit(self._run_one, q) for q in queries
        }
        done, _ = wait_futures(futures.values(), timeout=self.settings.timeout_seconds + 1.0)
        results: dict[str, QueryResult] = {}
        for q in queries:
            future = futures[q.name]
            if future in done:
                results[q.name] = future.result()
            else:
                future.cancel()
                results[q.name] = QueryFailed(
                    Unknown(
                        UnknownKind.TIMEOUT, q.name, f"no answer within {self.settings.timeout_seconds:g} s"
                    )
                )
            if timings is not None:
                outcome = results[q.name]
                timings.append(
                    QueryTiming(
                        q.name,
                        time.monotonic() - started[q.name],
                        outcome.unknown.kind if isinstance(outcome, QueryFailed) else None,
                    )
                )
        return results

    def _run_one(self, query: PlannedQuery) -> QueryResult:
        stale_after = self.options.stale_after
        try:
            raw = self._client.custom_query(query.promql)
        except Exception as error:  # every failure becomes a typed outcome below
            outcome = classify_exception(query.name, error, self.clock(), stale_after)
            log.warning("prometheus query failed", query=query.name, reason=outcome.unknown.reason)
            return outcome
        return parse_result(query.name, raw, query.parse_options(self.clock(), stale_after))
