"""Puts the parts together: the Prometheus source and the actuator behind the control
loop's two small interfaces, and the owned-object handler kopf calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from kubernetes.client import ApiClient
from pydantic import ValidationError

from modelscaler.actuator.kube import KubeActuator
from modelscaler.api.durations import parse_duration
from modelscaler.api.resource import ModelDeployment
from modelscaler.engine.params import params_from_spec
from modelscaler.metrics.batch import DeploymentQuery
from modelscaler.metrics.contract import EngineChoice
from modelscaler.metrics.settings import PrometheusSettings
from modelscaler.metrics.signals import Signals
from modelscaler.metrics.source import PrometheusSource
from modelscaler.runtime.http import Health
from modelscaler.runtime.logs import log_for
from modelscaler.runtime.loop import ControlLoop, Key, LoopConfig
from modelscaler.runtime.settings import OperatorSettings
from modelscaler.runtime.telemetry import Telemetry

log = structlog.get_logger("modelscaler.wiring")

# spec.metrics keys (the API's names) -> the metrics module's signal names, where they differ.
_OVERRIDE_KEYS = {"queueSize": "asyncQueueSize", "requestRate": "volumeByClass"}


def deployment_query(body: Mapping[str, Any]) -> DeploymentQuery | None:
    """What to ask Prometheus for one ModelDeployment; None when its spec is invalid."""
    try:
        md = ModelDeployment.model_validate(body)
    except ValidationError:
        return None
    meta = body.get("metadata", {})
    autoscaling = md.spec.autoscaling
    overrides = {
        _OVERRIDE_KEYS.get(key, key): value
        for key, value in md.spec.metrics.model_dump(by_alias=True, exclude_none=True).items()
    }
    return DeploymentQuery(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        engine=EngineChoice(md.spec.serving.engine),
        stable_window=parse_duration(autoscaling.autoscaling_window),
        burst_window=parse_duration(autoscaling.panic_window),
        overrides=overrides,
    )


class PrometheusSignals:
    """The loop's SignalSource over PrometheusSource: one batch per tick, in a thread."""

    def __init__(self, source: PrometheusSource, telemetry: Telemetry) -> None:
        self._source = source
        self._telemetry = telemetry

    async def fetch(self, bodies: Sequence[Mapping[str, Any]], now: float) -> Mapping[Key, Signals]:
        del now  # the source stamps its own sample times
        queries = [q for q in (deployment_query(b) for b in bodies) if q is not None]
        if not queries:
            return {}
        batch = await self._source.collect_async(queries)
        for timing in batch.timings:
            if timing.failed is not None:
                self._telemetry.query_errors.inc()
        return batch.signals


class ActuatorWriter:
    """The loop's Writer over KubeActuator."""

    def __init__(self, actuator: KubeActuator) -> None:
        self._actuator = actuator

    async def ensure_owned(self, md: Mapping[str, Any]) -> None:
        try:
            spec = ModelDeployment.model_validate(md).spec
        except ValidationError:
            return  # the loop reports InvalidSpec; nothing valid to create
        params = params_from_spec(spec)
        initial = (
            params.initial_replicas if params.initial_replicas is not None else max(params.min_replicas, 1)
        )
        result = await self._actuator.ensure_owned(md, initial)
        meta = md.get("metadata", {})
        logger = log_for(meta.get("namespace", ""), meta.get("name", ""))
        if result.ok:
            logger.info(
                "owned objects in line", deployment=str(result.deployment), service=str(result.service)
            )
        else:
            logger.warning("owned objects not in line", problem=result.message)
            await self._actuator.emit_event(md, "Warning", "OwnedObjectConflict", result.message)

    async def set_scale(self, namespace: str, name: str, replicas: int) -> None:
        await self._actuator.set_scale(namespace, name, replicas)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        return await self._actuator.patch_status(namespace, name, status) is not None

    async def emit_event(self, md: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        await self._actuator.emit_event(md, type_, reason, message)  # type: ignore[arg-type]


def build_control_loop(
    settings: OperatorSettings,
    api_client: ApiClient,
    telemetry: Telemetry,
    health: Health,
    is_leader: Callable[[], bool],
) -> ControlLoop:
    """The control loop with its real signal source and writer."""
    source = PrometheusSource(PrometheusSettings.from_env())
    actuator = KubeActuator(api_client, reporting_instance=settings.identity)
    return ControlLoop(
        config=LoopConfig(
            tick_seconds=settings.tick_seconds,
            max_concurrent_writes=settings.max_concurrent_writes,
            history_limit=settings.history_limit,
        ),
        signals=PrometheusSignals(source, telemetry),
        writer=ActuatorWriter(actuator),
        telemetry=telemetry,
        health=health,
        is_leader=is_leader,
    )


def build_ensure_owned(
    api_client: ApiClient, loop: ControlLoop
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The kopf handler's call: keep the Deployment and Service in line with the spec."""
    del loop
    writer = ActuatorWriter(KubeActuator(api_client))
    return writer.ensure_owned
