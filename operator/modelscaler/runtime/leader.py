"""One active operator: leader election on a coordination.k8s.io/v1 Lease.

The active process renews the Lease every `renew` seconds. A standby takes over
when it has seen the same Lease record unchanged for `duration` seconds (it times
the record by its own clock, as client-go does, so clock skew between nodes does
not matter). An active process that cannot renew before its own deadline stops
acting and exits, so two processes never both write; Kubernetes restarts it as a
standby. On a clean shutdown the Lease is released so a standby takes over at once.

The decision of who may take the Lease is the pure `may_acquire`; the I/O around it
is thin.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import structlog
from kubernetes import client
from kubernetes.client.rest import ApiException

log = structlog.get_logger("modelscaler.leader")


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """What matters of a Lease: who holds it and the version that last changed."""

    holder: str | None
    resource_version: str | None
    transitions: int = 0


def may_acquire(record: LeaseRecord | None, me: str, unchanged_for: float, duration: float) -> bool:
    """Whether `me` may write itself into the Lease.

    Yes when there is no Lease, when it is free or already ours, or when its record
    has not changed for longer than the lease duration (the holder stopped renewing).
    """
    if record is None or not record.holder or record.holder == me:
        return True
    return unchanged_for >= duration


def _now_micro() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaderElector:
    """Acquires and keeps the Lease; `is_leader` tells the control loop whether it may write."""

    def __init__(
        self,
        api: client.CoordinationV1Api,
        *,
        name: str,
        namespace: str,
        identity: str,
        duration: float,
        renew: float,
        on_lost: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._name = name
        self._namespace = namespace
        self.identity = identity
        self._duration = duration
        self._renew = renew
        self._on_lost = on_lost
        self._clock = clock
        self._seen: tuple[str | None, float] = (None, clock())  # (resourceVersion, when first seen)
        self.is_leader = False
        self.acquired = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lease")

    async def run(self) -> None:
        """Acquires, then renews until cancelled; calls on_lost() if renewal fails past the deadline."""
        while not self.is_leader:
            if await self._try_once():
                self.is_leader = True
                self.acquired.set()
                log.info("became leader", lease=f"{self._namespace}/{self._name}", identity=self.identity)
                break
            await asyncio.sleep(self._renew)
        deadline = self._clock() + self._duration
        pause = self._renew
        while True:
            await asyncio.sleep(pause)
            if await self._try_once():
                deadline = self._clock() + self._duration
                pause = self._renew
                continue
            # Retry soon (client-go retries every 2 s within its renew deadline); give up only when the
            # next attempt could no longer finish before a standby may take over.
            pause = max(self._renew / 4, 0.2)
            if self._clock() + pause + self._renew >= deadline:
                # We can no longer prove we hold it: stop before a standby may start.
                self.is_leader = False
                log.error("lost leadership; stopping", identity=self.identity)
                self._on_lost()
                return

    async def _try_once(self) -> bool:
        # Its own thread: the renewal never queues behind the operator's other API calls.
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._acquire_or_renew), timeout=self._renew
            )
        except (ApiException, OSError, TimeoutError) as exc:
            log.warning("lease update failed", error=str(exc)[:200])
            return False

    def _read(self) -> client.V1Lease | None:
        try:
            return self._api.read_namespaced_lease(self._name, self._namespace, _request_timeout=self._renew)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _acquire_or_renew(self) -> bool:
        lease = self._read()
        now = _now_micro()
        if lease is None:
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self._name, namespace=self._namespace),
                spec=client.V1LeaseSpec(
                    holder_identity=self.identity,
                    lease_duration_seconds=max(1, round(self._duration)),
                    acquire_time=now,
                    renew_time=now,
                    lease_transitions=0,
                ),
            )
            try:
                self._api.create_namespaced_lease(self._namespace, body, _request_timeout=self._renew)
            except ApiException as exc:
                if exc.status == 409:
                    return False
                raise
            return True
        spec = lease.spec or client.V1LeaseSpec()
        version = lease.metadata.resource_version
        if version != self._seen[0]:
            self._seen = (version, self._clock())
        record = LeaseRecord(spec.holder_identity, version, spec.lease_transitions or 0)
        if not may_acquire(record, self.identity, self._clock() - self._seen[1], self._duration):
            return False
        if record.holder != self.identity:
            spec.acquire_time = now
            spec.lease_transitions = record.transitions + 1
            log.info("taking over the lease", previous=record.holder, identity=self.identity)
        spec.holder_identity = self.identity
        spec.renew_time = now
        spec.lease_duration_seconds = max(1, round(self._duration))
        lease.spec = spec
        try:
            # replace carries resourceVersion: a concurrent writer makes this a 409.
            self._api.replace_namespaced_lease(
                self._name, self._namespace, lease, _request_timeout=self._renew
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def release(self) -> None:
        """Gives the Lease up on a clean shutdown, so a standby takes over without waiting."""
        if not self.is_leader:
            return
        self.is_leader = False

        def _release() -> None:
            lease = self._read()
            if lease is None or lease.spec is None or lease.spec.holder_identity != self.identity:
                return
            lease.spec.holder_identity = None
            self._api.replace_namespaced_lease(
                self._name, self._namespace, lease, _request_timeout=self._renew
            )

        try:
            await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self._executor, _release), timeout=self._renew
            )
            log.info("released the lease", identity=self.identity)
        except (ApiException, OSError, TimeoutError) as exc:
            log.warning("could not release the lease", error=str(exc)[:200])
