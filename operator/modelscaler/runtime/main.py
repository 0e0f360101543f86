"""`modelscaler run`: the operator process.

Start-up order: logs, the HTTP endpoints (so probes answer while a standby
waits), the Lease (one active operator), then kopf (watches, indexes, the
owned-object handlers) whose start-up handler launches the single control loop.
Losing the Lease stops the process with exit code 1; Kubernetes restarts it as a
standby. SIGTERM stops cleanly and releases the Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
import structlog
from kubernetes import client, config

from modelscaler.runtime.handlers import build_registry, configure_kopf
from modelscaler.runtime.http import Health, build_app, start_http
from modelscaler.runtime.leader import LeaderElector
from modelscaler.runtime.logs import configure_logging
from modelscaler.runtime.settings import OperatorSettings, parse_settings
from modelscaler.runtime.telemetry import Telemetry
from modelscaler.runtime.wiring import build_control_loop, build_ensure_owned

log = structlog.get_logger("modelscaler.main")


def load_api_client(kubeconfig: str | None, pool_size: int = 10) -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig file.

    pool_size: HTTP connections kept to the API server; as many as the threads that call it, so a
    call beyond the pool never opens (and drops) a TLS connection of its own.
    """
    cfg = client.Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=cfg)
    else:
        config.load_kube_config(client_configuration=cfg)
    cfg.connection_pool_maxsize = pool_size
    return client.ApiClient(cfg)


async def run_operator(settings: OperatorSettings) -> int:
    """Runs until SIGTERM/SIGINT (exit 0) or until the Lease is lost (exit 1)."""
    # The Kubernetes and Prometheus clients are synchronous and run in threads: give the default executor
    # room for the bounded writes plus kopf's handlers, so one slow call never queues behind a fleet.
    threads = settings.max_concurrent_writes + 8
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="api")
    )
    api_client = load_api_client(settings.kubeconfig, pool_size=threads)
    telemetry = Telemetry()
    stop_flag = asyncio.Event()
    exit_code = 0

    elector: LeaderElector | None = None
    if settings.leader_election:

        def lost() -> None:
            nonlocal exit_code
            exit_code = 1
            telemetry.is_leader.set(0)
            stop_flag.set()

        elector = LeaderElector(
            client.CoordinationV1Api(api_client),
            name=settings.lease_name,
            namespace=settings.lease_namespace,
            identity=settings.identity,
            duration=settings.lease_duration_seconds,
            renew=settings.lease_renew_seconds,
            on_lost=lost,
        )

    def is_leader() -> bool:
        return elector.is_leader if elector is not None else True

    health = Health(
        tick_seconds=settings.tick_seconds,
        liveness_ticks=settings.liveness_ticks,
        started_at=time.time(),
        is_leader=is_leader,
    )
    runner, port = await start_http(build_app(health, telemetry), settings.http_host, settings.http_port)
    log.info("serving /metrics, /healthz, /readyz", port=port, identity=settings.identity)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_flag.set)

    elector_task: asyncio.Task[None] | None = None
    try:
        if elector is not None:
            health.watches_started = True  # a standby is ready: it serves probes and waits
            elector_task = asyncio.create_task(elector.run(), name="leader-election")
            acquired = asyncio.create_task(elector.acquired.wait())
            stopping = asyncio.create_task(stop_flag.wait())
            await asyncio.wait({acquired, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (acquired, stopping):
                task.cancel()
            if stop_flag.is_set():
                return exit_code
            telemetry.is_leader.set(1)

        control_loop = build_control_loop(settings, api_client, telemetry, health, is_leader)
        registry = build_registry(build_ensure_owned(api_client, control_loop), api_client.configuration)

        @kopf.on.startup(registry=registry)
        async def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            configure_kopf(settings)

        @kopf.on.startup(registry=registry)
        async def _start_loop(**kwargs: Any) -> None:
            control_loop.attach_indexes(
                modeldeployments=kwargs["modeldeployments"],
                pods=kwargs["model_pods"],
                deployments=kwargs["owned_deployments"],
                hpas=kwargs["hpa_targets"],
            )
            control_loop.start(stop_flag)
            health.watches_started = True

        @kopf.on.cleanup(registry=registry)
        async def _stop_loop(**_: Any) -> None:
            await control_loop.stop()

        await kopf.operator(
            registry=registry,
            clusterwide=settings.clusterwide,
            namespaces=list(settings.namespaces),
            standalone=True,
            stop_flag=stop_flag,
        )
        return exit_code
    finally:
        if elector_task is not None:
            elector_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await elector_task
        if elector is not None and exit_code == 0:
            await elector.release()
        await runner.cleanup()
        api_client.close()


def main(argv: list[str]) -> int:
    """Entry point of `modelscaler run`."""
    settings = parse_settings(argv)
    configure_logging(settings.log_format, settings.log_level)
    return asyncio.run(run_operator(settings))
