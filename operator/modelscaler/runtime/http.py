"""The operator's HTTP endpoints: /metrics, /healthz (liveness) and /readyz (readiness).

Liveness fails when the active operator has not completed a tick for
`liveness_ticks` intervals: a wedged loop gets the pod restarted. A standby is
alive while it waits for the Lease. Readiness is true once the process has
started its watches (standby) or completed its first tick (active).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelscaler.runtime.telemetry import Telemetry


@dataclass
class Health:
    """What the probes read; the control loop and the elector update it."""

    tick_seconds: float
    liveness_ticks: int
    started_at: float
    is_leader: Callable[[], bool]
    last_tick_ok: float | None = None
    watches_started: bool = False

    def alive(self, now: float) -> tuple[bool, str]:
        """(alive, why) for /healthz."""
        if not self.is_leader():
            return True, "standby"
        limit = self.tick_seconds * self.liveness_ticks
        since = self.last_tick_ok if self.last_tick_ok is not None else self.started_at
        if now - since > limit:
            return False, f"no successful tick for {now - since:.0f}s (limit {limit:.0f}s)"
        return True, "ticking"

    def ready(self) -> tuple[bool, str]:
        """(ready, why) for /readyz."""
        if not self.watches_started:
            return False, "starting"
        if self.is_leader() and self.last_tick_ok is None:
            return False, "waiting for the first tick"
        return True, "leader" if self.is_leader() else "standby"


def build_app(
    health: Health, telemetry: Telemetry, clock: Callable[[], float] = time.time
) -> web.Application:
    """The aiohttp application serving the three endpoints."""

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(telemetry.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        ok, why = health.alive(clock())
        return web.Response(status=200 if ok else 503, text=why + "\n")

    async def readyz(_: web.Request) -> web.Response:
        ok, why = health.ready()
        return web.Response(status=200 if ok else 503, text=why + "\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_http(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Starts serving; returns the runner (to stop it) and the bound port (useful with port 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            bound = int(address[1])
    return runner, bound
