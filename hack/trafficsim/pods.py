"""Follow the pods of every ModelDeployment with a Kubernetes list + watch, reconnecting on errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from .simulation import PodInfo

DEPLOYMENT_LABEL = "serving.modelscaler.io/deployment"
WATCH_SECONDS = 60
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
WATCH_FACTORY: Any = watch.Watch  # the client's watch module is untyped: held as Any

log = structlog.get_logger("trafficsim.pods")


def pod_info(pod: Any) -> PodInfo | None:
    """A watched pod as PodInfo; None without the deployment label. Terminating pods are not Ready."""
    metadata = pod.metadata
    deployment = (metadata.labels or {}).get(DEPLOYMENT_LABEL)
    if not deployment:
        return None
    conditions = (pod.status.conditions if pod.status is not None else None) or []
    ready = any(condition.type == "Ready" and condition.status == "True" for condition in conditions)
    return PodInfo(
        namespace=metadata.namespace,
        name=metadata.name,
        uid=metadata.uid or "",
        deployment=deployment,
        ready=ready and metadata.deletion_timestamp is None,
    )


class _Expired(Exception):
    """The watch's resourceVersion is too old: list again."""


class PodWatcher:
    """Lists then watches labelled pods and reports them through the callbacks.

    ``namespaces`` restricts the pods followed (None: all namespaces). ``watch_factory`` makes the
    client's ``watch.Watch`` (replaceable in tests); ``retry_seconds`` are the waits after failures.
    """

    def __init__(
        self,
        api: client.CoreV1Api,
        on_list: Callable[[list[PodInfo]], None],
        on_change: Callable[[PodInfo], None],
        on_delete: Callable[[str, str], None],
        stop: threading.Event,
        namespaces: frozenset[str] | None = None,
        watch_factory: Callable[[], Any] = WATCH_FACTORY,
        retry_seconds: Sequence[float] = RETRY_SECONDS,
    ) -> None:
        self._api = api
        self._watch_factory = watch_factory
        self._retry_seconds = retry_seconds
        self._namespaces = namespaces
        self._on_list = on_list
        self._on_change = on_change
        self._on_delete = on_delete
        self._stop = stop
        self.synced = threading.Event()

    def run(self) -> None:
        """Until stopped: list, then watch from the list's resourceVersion; re-list after any failure."""
        failures = 0
        while not self._stop.is_set():
            try:
                version = self._list()
                failures = 0
                self._watch(version)
            except _Expired:
                log.info("watch expired, listing again")
            except Exception as error:  # any failure of the API server or the connection: retry
                delay = self._retry_seconds[min(failures, len(self._retry_seconds) - 1)]
                failures += 1
                log.warning("pod watch failed", error=repr(error), retry_in=delay)
                self._stop.wait(delay)

    def _list(self) -> str:
        listing = self._api.list_pod_for_all_namespaces(label_selector=DEPLOYMENT_LABEL, _request_timeout=30)
        pods = [
            info
            for info in (pod_info(pod) for pod in listing.items)
            if info is not None and self._wanted(info)
        ]
        version = str(listing.metadata.resource_version if listing.metadata is not None else "")
        self._on_list(pods)
        self.synced.set()
        log.info("pods listed", pods=len(pods), resource_version=version)
        return version

    def _watch(self, version: str) -> None:
        stream = self._watch_factory()
        while not self._stop.is_set():
            try:
                for event in stream.stream(
                    self._api.list_pod_for_all_namespaces,
                    label_selector=DEPLOYMENT_LABEL,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=WATCH_SECONDS,
                    _request_timeout=WATCH_SECONDS + 10,
                ):
                    if self._stop.is_set():
                        stream.stop()
                        return
                    version = self._handle(event, version)
            except ApiException as error:
                if error.status == 410:
                    raise _Expired from error
                raise

    def _wanted(self, pod: PodInfo) -> bool:
        return self._namespaces is None or pod.namespace in self._namespaces

    def _handle(self, event: dict[str, Any], version: str) -> str:
        """Apply one watch event; return the resourceVersion to resume from."""
        kind = event["type"]
        if kind == "BOOKMARK":
            return str(event["raw_object"].get("metadata", {}).get("resourceVersion") or version)
        pod = event["object"]
        if self._namespaces is not None and pod.metadata.namespace not in self._namespaces:
            return str(pod.metadata.resource_version or version)
        if kind == "DELETED":
            self._on_delete(pod.metadata.namespace, pod.metadata.name)
        else:
            info = pod_info(pod)
            if info is not None:
                self._on_change(info)
        return str(pod.metadata.resource_version or version)
