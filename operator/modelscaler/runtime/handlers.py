"""Kopf wiring: the in-memory indexes the control loop reads, and the handlers that
keep each ModelDeployment's Deployment and Service in line with its spec.

Handlers are thin: read, call the actuator, return nothing (kopf keeps its own
progress in annotations; status is written by the control loop alone). There is no
on-delete handler, so kopf adds no finalizer: deleting a ModelDeployment never hangs
while the operator is down, and garbage collection removes what it owns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from modelscaler.runtime.logs import log_for

GROUP = "serving.modelscaler.io"
VERSION = "v1alpha1"
PLURAL = "modeldeployments"
POD_LABEL = "serving.modelscaler.io/deployment"
ANNOTATION_PREFIX = "serving.modelscaler.io"

Key = tuple[str, str]
EnsureOwned = Callable[[dict[str, Any]], Awaitable[None]]


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Kopf's own behaviour: progress in annotations, no status writes, quiet events."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    # Kopf would post an Event for every handler run; ours are the ones that matter.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    settings.execution.max_workers = 8


def _owned_summary(body: kopf.Body) -> dict[str, Any]:
    """What the loop needs of an owned Deployment."""
    spec = body.get("spec", {})
    status = body.get("status", {})
    return {
        "name": body.get("metadata", {}).get("name"),
        "uid": body.get("metadata", {}).get("uid"),
        "owners": [o.get("uid") for o in body.get("metadata", {}).get("ownerReferences", [])],
        "replicas": spec.get("replicas"),
        "status_replicas": status.get("replicas"),
        "ready_replicas": status.get("readyReplicas"),
        "generation": body.get("metadata", {}).get("generation"),
        "observed_generation": status.get("observedGeneration"),
    }


def connection_info(configuration: Any) -> kopf.ConnectionInfo:
    """Kopf's credentials from a kubernetes.client.Configuration (token, client certificate or basic auth)."""
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    scheme, token = None, None
    if header:
        first, _, rest = header.partition(" ")
        scheme, token = (first, rest) if rest else (None, first)
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


def build_registry(ensure_owned: EnsureOwned, client_configuration: Any) -> kopf.OperatorRegistry:
    """A kopf registry with our indexes and handlers.

    ensure_owned: the actuator's call that keeps the Deployment and Service in line;
    client_configuration: the kubernetes client's Configuration, whose credentials kopf reuses.
    """
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        # The very credentials the rest of the operator uses (in-cluster or --kubeconfig).
        return connection_info(client_configuration)

    @kopf.index(GROUP, VERSION, PLURAL, id="modeldeployments", registry=registry)
    def modeldeployments(
        namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[Key, dict[str, Any]]:
        return {(namespace or "", name): dict(body)}

    @kopf.index("pods", labels={POD_LABEL: kopf.PRESENT}, id="model_pods", registry=registry)
    def model_pods(
        namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
    ) -> dict[Key, dict[str, Any]]:
        return {(namespace or "", labels[POD_LABEL]): dict(body)}

    @kopf.index(
        "apps",
        "v1",
        "deployments",
        labels={POD_LABEL: kopf.PRESENT},
        id="owned_deployments",
        registry=registry,
    )
    def owned_deployments(
        namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
    ) -> dict[Key, dict[str, Any]]:
        return {(namespace or "", labels[POD_LABEL]): _owned_summary(body)}

    @kopf.index("autoscaling", "v2", "horizontalpodautoscalers", id="hpa_targets", registry=registry)
    def hpa_targets(namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[Key, str] | None:
        ref = spec.get("scaleTargetRef", {})
        if ref.get("kind") != "Deployment" or not ref.get("name"):
            return None
        return {(namespace or "", ref["name"]): f"HorizontalPodAutoscaler/{name}"}

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec", registry=registry)
    async def keep_owned(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> None:
        log_for(namespace or "", name).info("reconciling owned Deployment and Service")
        await ensure_owned(dict(body))

    return registry
