"""The one operator-wide control loop.

Every tick: read every ModelDeployment, its pods and its Deployment from kopf's
in-memory indexes (no API reads), fetch one batch of signals for all of them from
Prometheus, reconcile each (pure), then write only what changed — the Deployment's
/scale on a new count, the status when it changed, Events on transitions — with
bounded concurrency. A failure to write one deployment never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from modelscaler.actuator.pods import summarise_pods
from modelscaler.metrics.signals import Signals
from modelscaler.runtime.http import Health
from modelscaler.runtime.logs import log_for
from modelscaler.runtime.reconcile import Cadence, Inputs, Plan, Readings, Tracked, merge_patch, reconcile
from modelscaler.runtime.telemetry import Telemetry

log = structlog.get_logger("modelscaler.loop")

Key = tuple[str, str]


class SignalSource(Protocol):
    """Fetches one batch of signals for all the given ModelDeployments."""

    async def fetch(self, bodies: Sequence[Mapping[str, Any]], now: float) -> Mapping[Key, Signals]: ...


class Writer(Protocol):
    """The actuator calls the loop makes (the only Kubernetes writes)."""

    async def ensure_owned(self, md: Mapping[str, Any]) -> None: ...

    async def set_scale(self, namespace: str, name: str, replicas: int) -> None: ...

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool: ...

    async def emit_event(self, md: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """The loop's knobs (from OperatorSettings)."""

    tick_seconds: float = 2.0
    max_concurrent_writes: int = 16
    history_limit: int = 20
    # Measured figures in status are refreshed this often at least (a change of replicas, mode or a
    # condition is written at once) — and no faster than refresh_writes_per_second across the fleet,
    # so 1,000 deployments refresh every 100 s instead of sending 67 PATCHes a second.
    status_refresh_seconds: float = 15.0
    refresh_writes_per_second: float = 10.0
    diagnosis_seconds: float = 10.0


def _first(store: Iterable[Any] | None) -> Any:
    if store is None:
        return None
    return next(iter(store), None)


def readings_from(signals: Signals | None) -> Readings:
    """The figures diagnosis and status use, beyond the engine's Observation."""
    if signals is None:
        return Readings()
    return Readings(
        latency_p50=signals.latency_p50,
        latency_p90=signals.latency_p90,
        latency_p95=signals.latency_p95,
        latency_p99=signals.latency_p99,
        request_rate=signals.request_rate,
        error_rate=signals.error_rate,
        queue_size=signals.async_queue_size,
        kv_cache_usage=signals.kv_cache_usage,
        waiting_requests=signals.waiting,
    )


class ControlLoop:
    """Runs `tick()` every `tick_seconds` while this process is the leader."""

    def __init__(
        self,
        *,
        config: LoopConfig,
        signals: SignalSource,
        writer: Writer,
        telemetry: Telemetry,
        health: Health,
        is_leader: Callable[[], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._signals = signals
        self._writer = writer
        self._telemetry = telemetry
        self._health = health
        self._is_leader = is_leader
        self._clock = clock
        self._tracked: dict[Key, Tracked] = {}
        self._cadence = Cadence(
            status_refresh=config.status_refresh_seconds, diagnosis=config.diagnosis_seconds
        )
        self._writes = asyncio.Semaphore(config.max_concurrent_writes)
        self._task: asyncio.Task[None] | None = None
        self._mds: Mapping[Key, Iterable[dict[str, Any]]] = {}
        self._pods: Mapping[Key, Iterable[dict[str, Any]]] = {}
        self._deployments: Mapping[Key, Iterable[dict[str, Any]]] = {}
        self._hpas: Mapping[Key, Iterable[str]] = {}

    def attach_indexes(
        self,
        *,
        modeldeployments: Mapping[Key, Iterable[dict[str, Any]]],
        pods: Mapping[Key, Iterable[dict[str, Any]]],
        deployments: Mapping[Key, Iterable[dict[str, Any]]],
        hpas: Mapping[Key, Iterable[str]],
    ) -> None:
        """Points the loop at kopf's live indexes (they update in place as watch events arrive)."""
        self._mds, self._pods, self._deployments, self._hpas = modeldeployments, pods, deployments, hpas

    def tracked(self, key: Key) -> Tracked | None:
        """What the loop remembers of one deployment (for tests and debugging)."""
        return self._tracked.get(key)

    def start(self, stop_flag: asyncio.Event) -> None:
        """Starts ticking in a background task."""
        self._task = asyncio.create_task(self._run(stop_flag), name="control-loop")

    async def stop(self) -> None:
        """Stops ticking and waits for the current tick's writes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, stop_flag: asyncio.Event) -> None:
        # Let the watch streams fill the indexes before the first decision.
        await asyncio.sleep(self._config.tick_seconds)
        while not stop_flag.is_set():
            started = time.monotonic()
            try:
                await self.tick(self._clock())
                self._telemetry.ticks.labels("ok").inc()
                self._health.last_tick_ok = self._clock()
                self._telemetry.last_successful_tick.set(self._health.last_tick_ok)
            except Exception:
                self._telemetry.ticks.labels("error").inc()
                log.exception("tick failed")
            elapsed = time.monotonic() - started
            self._telemetry.tick_duration.observe(elapsed)
            await asyncio.sleep(max(0.0, self._config.tick_seconds - elapsed))

    async def tick(self, now: float) -> None:
        """One pass over every ModelDeployment."""
        bodies: dict[Key, dict[str, Any]] = {}
        for key, store in list(self._mds.items()):
            body = _first(store)
            if body is not None:
                bodies[key] = body
        for gone in set(self._tracked) - set(bodies):
            del self._tracked[gone]
            self._telemetry.forget(*gone)
        if not bodies:
            return
        self._cadence = replace(
            self._cadence,
            status_refresh=max(
                self._config.status_refresh_seconds, len(bodies) / self._config.refresh_writes_per_second
            ),
        )

        query_started = time.monotonic()
        try:
            signals = await self._signals.fetch(list(bodies.values()), now)
        except Exception as exc:  # the source reports per-field unknowns; this is the source itself failing
            self._telemetry.query_errors.inc()
            log.warning("signal batch failed", error=str(exc)[:300])
            signals = {}
        self._telemetry.query_duration.observe(time.monotonic() - query_started)

        leader = self._is_leader()
        work = []
        for key, body in bodies.items():
            # reconcile() is CPU-bound (milliseconds per deployment, more with a long diagnosis
            # history): yield between deployments so that the Lease renewal, the probes and the
            # watch streams keep running during a pass over a large fleet.
            await asyncio.sleep(0)
            tracked = self._tracked.get(key)
            if tracked is None:
                tracked = self._tracked[key] = Tracked.from_status(body.get("status"))
            deployment = _first(self._deployments.get(key))
            if deployment is not None and body.get("metadata", {}).get("uid") not in deployment.get(
                "owners", []
            ):
                deployment = None
            pod_bodies = tuple(self._pods.get(key) or ())
            pods = summarise_pods(pod_bodies)
            sig = signals.get(key)
            observation = None
            if sig is not None:
                observation = sig.to_observation(pods.ready, pods.starting, tracked.desired or 0)
            inputs = Inputs(
                body=body,
                deployment=deployment,
                pods=pods,
                observation=observation,
                readings=readings_from(sig),
                competing=tuple(sorted(self._hpas.get(key) or ())),
                leader=leader,
                pod_bodies=pod_bodies,
            )
            try:
                plan = reconcile(
                    inputs,
                    tracked,
                    now,
                    history_limit=self._config.history_limit,
                    cadence=self._cadence,
                )
            except Exception:
                log_for(*key).exception("reconcile failed")
                continue
            self._export(key, tracked, pods.ready, pods.starting, pods.restarts)
            if leader:
                work.append(self._apply(key, body, tracked, plan, now))
        await asyncio.gather(*work)

    def _export(self, key: Key, tracked: Tracked, ready: int, starting: int, restarts: Sequence[Any]) -> None:
        t = self._telemetry
        t.pods.labels(*key, "ready").set(ready)
        t.pods.labels(*key, "starting").set(starting)
        t.replicas.labels(*key, "desired").set(tracked.desired or 0)
        t.replicas.labels(*key, "ready").set(ready)
        t.replicas.labels(*key, "starting").set(starting)
        by_reason: dict[str, int] = {}
        for event in tracked.restarts.values():
            by_reason[event.reason] = by_reason.get(event.reason, 0) + 1
        for reason, count in by_reason.items():
            t.restarts.labels(*key, reason).set(count)
        for condition in tracked.conditions:
            # One series per condition, labelled with its current status (13 x N series, not 3 x 13 x N).
            for status in ("True", "False", "Unknown"):
                if status != condition.status:
                    with contextlib.suppress(KeyError):
                        t.condition.remove(*key, condition.type, status)
            t.condition.labels(*key, condition.type, condition.status).set(1)

    def _refresh_slot(self, key: Key, now: float) -> float:
        """The time a status written at `now` counts as written, for the periodic refresh.

        Each deployment refreshes on its own grid, `status_refresh_seconds` apart and offset by
        a stable per-deployment phase: the latest grid point not after `now`. So the refreshes
        of a fleet spread evenly over the period, even when every deployment was written on the
        same tick (the first tick after a start, a Prometheus outage that flips every
        condition), instead of all coming due together on one long tick.
        """
        period = self._cadence.status_refresh
        phase = zlib.crc32(f"{key[0]}/{key[1]}".encode()) / 2**32 * period
        return phase + math.floor((now - phase) / period) * period

    async def _apply(self, key: Key, body: dict[str, Any], tracked: Tracked, plan: Plan, now: float) -> None:
        logger = log_for(*key)
        async with self._writes:
            try:
                if plan.ensure_owned:
                    await self._writer.ensure_owned(body)
                    return
                if plan.scale_to is not None:
                    await self._writer.set_scale(key[0], key[1], plan.scale_to)
                    self._telemetry.api_writes.labels("scale").inc()
                    last = tracked.last_decision
                    direction = "up" if last and last.to_replicas > last.from_replicas else "down"
                    self._telemetry.decisions.labels(direction).inc()
                    logger.info(
                        "scaled",
                        replicas=plan.scale_to,
                        reason=last.reason if last else None,
                        message=last.message if last else None,
                    )
                if plan.status is not None:
                    patch = merge_patch(body.get("status"), plan.status)
                    if not patch or await self._writer.patch_status(key[0], key[1], patch):
                        tracked.written_status = plan.status
                        tracked.written_at = self._refresh_slot(key, now)
                    if patch:
                        self._telemetry.api_writes.labels("status").inc()
                for event in plan.events:
                    await self._writer.emit_event(body, event.type, event.reason, event.message)
                    self._telemetry.api_writes.labels("event").inc()
            except Exception as exc:
                logger.warning("write failed", error=str(exc)[:300])
