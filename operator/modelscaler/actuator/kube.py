"""The only Kubernetes writer: owned objects, the Deployment's scale, status, Events.

`KubeActuator` is an async facade over the official client's `ApiClient` (which
brings the kubeconfig or in-cluster credentials, TLS and connection pooling). Each
call is a plain REST request, made in a worker thread (`asyncio.to_thread`) with a
connect and read timeout, so the event loop never blocks; bodies go out and come
back as plain dicts, and content types are always explicit (server-side apply,
JSON merge patch). Errors other than the documented ones (404 where a call says so,
conflicts and invalid manifests in `ensure_owned`) propagate as `ApiException` or
urllib3 errors, for the caller to retry.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import structlog
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from modelscaler.actuator.events import (
    EventMemory,
    EventType,
    SeenEvent,
    build_event,
    build_repeat_patch,
    event_key,
)
from modelscaler.actuator.manifests import (
    GROUP,
    PLURAL,
    VERSION,
    ManifestError,
    build_deployment,
    build_service,
    is_controlled_by,
)
from modelscaler.actuator.ownership import FIELD_MANAGER, SCALE_MANAGER, replicas_handover
from modelscaler.actuator.scalers import competing_scalers

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"
KEDA_SCALED_OBJECTS = "/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects"

_log = structlog.get_logger(__name__)


class Outcome(StrEnum):
    """What `ensure_owned` did to one owned object."""

    CREATED = "Created"
    UPDATED = "Updated"
    UNCHANGED = "Unchanged"
    CONFLICT = "Conflict"  # an object of that name exists and is not controlled by this ModelDeployment
    INVALID = "Invalid"  # the spec cannot make a valid object (our check or the API server's)


@dataclass(frozen=True, slots=True)
class EnsureResult:
    """What `ensure_owned` did to the Deployment and the Service, and why when it could not."""

    deployment: Outcome
    service: Outcome
    messages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Both objects are in line with the spec."""
        return not {self.deployment, self.service} & {Outcome.CONFLICT, Outcome.INVALID}

    @property
    def message(self) -> str:
        """The problems in one line, for a condition or an Event ("" when ok)."""
        return "; ".join(self.messages)


def _segment(value: str) -> str:
    return quote(value, safe="")


def deployment_path(namespace: str, name: str) -> str:
    """The REST path of an apps/v1 Deployment."""
    return f"/apis/apps/v1/namespaces/{_segment(namespace)}/deployments/{_segment(name)}"


def service_path(namespace: str, name: str) -> str:
    """The REST path of a core/v1 Service."""
    return f"/api/v1/namespaces/{_segment(namespace)}/services/{_segment(name)}"


def modeldeployment_path(namespace: str, name: str) -> str:
    """The REST path of a ModelDeployment."""
    return f"/apis/{GROUP}/{VERSION}/namespaces/{_segment(namespace)}/{PLURAL}/{_segment(name)}"


def events_path(namespace: str) -> str:
    """The REST path of a namespace's core/v1 Events."""
    return f"/api/v1/namespaces/{_segment(namespace)}/events"


def _md_key(md: Mapping[str, Any]) -> tuple[str, str]:
    metadata = md.get("metadata") or {}
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _owner_description(obj: Mapping[str, Any]) -> str:
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    controllers = [f"{ref.get('kind')}/{ref.get('name')}" for ref in references if ref.get("controller")]
    return f"controlled by {', '.join(controllers)}" if controllers else "not controlled by any object"


def _api_message(error: ApiException) -> str:
    """The API server's own message (the Status body's), else the HTTP reason."""
    body: object = error.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            status = json.loads(body)
        except ValueError:
            return body[:500]
        if isinstance(status, dict) and status.get("message"):
            return str(status["message"])
    return str(error.reason)


def _is_invalid(error: ApiException) -> bool:
    """Whether the API server refused the object itself (retrying the same spec cannot help).

    kube-apiserver answers an apply whose object has a field its schema lacks with a
    500 "failed to create typed patch object (...): ... field not declared in schema",
    not a 400; that one is the user's typo too.
    """
    if error.status in (400, 422):
        return True
    return error.status == 500 and "failed to create typed patch object" in _api_message(error)


class KubeActuator:
    """Async writes (and the few reads they need) against the Kubernetes API server."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        reporting_instance: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        event_memory_size: int = 512,
    ) -> None:
        """Uses `api_client`'s configuration; every request times out after the given seconds.

        reporting_instance: this operator replica's name (e.g. its pod), written into Events.
        clock: the wall clock for Event timestamps (injectable for tests).
        """
        self._api = api_client
        self._timeouts = (connect_timeout, request_timeout)
        self._reporting_instance = reporting_instance
        self._clock = clock
        self._events = EventMemory(event_memory_size)

    # -- transport ---------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None,
        body: Any,
        content_type: str | None,
    ) -> Any:
        headers = {"Accept": JSON}
        if content_type is not None:
            headers["Content-Type"] = content_type
        method_, url, headers_, body_, post_params = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(
            method_,
            url,
            header_params=headers_,
            body=body_,
            post_params=post_params,
            _request_timeout=self._timeouts,
        )
        response.read()  # type: ignore[no-untyped-call,unused-ignore]
        return self._api.response_deserialize(response, {"2XX": "object"}).data

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        return await asyncio.to_thread(self._send, method, path, query, body, content_type)

    async def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._call("GET", path)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    async def _apply(
        self, path: str, manifest: Mapping[str, Any], *, manager: str = FIELD_MANAGER, force: bool
    ) -> dict[str, Any]:
        query = [("fieldManager", manager), ("fieldValidation", "Strict")]
        if force:
            query.append(("force", "true"))
        applied: dict[str, Any] = await self._call(
            "PATCH", path, query=query, body=manifest, content_type=APPLY_PATCH
        )
        return applied

    async def _create(self, path: str, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        """Creates the object by apply; None if someone else created it since our read.

        Not forced, so that the other creator's fields conflict (409) instead of being taken.
        """
        try:
            return await self._apply(path, manifest, force=False)
        except ApiException as error:
            if error.status == 409:
                return None
            raise

    # -- owned objects -----------------------------------------------------------------------------

    async def ensure_owned(self, md: Mapping[str, Any], initial_replicas: int) -> EnsureResult:
        """Creates the MD's Deployment and Service if missing, else brings them in line with the spec.

        The Deployment is created with `initial_replicas`; afterwards replicas are never
        touched here (see ownership.py): a template change rolls the pods, replicas stay.
        An object of the same name that this MD does not control is left alone and
        reported as a conflict; an invalid spec is reported, not raised.
        """
        deployment, deployment_message = await self._ensure_object(
            md,
            "Deployment",
            deployment_path,
            lambda: build_deployment(md, initial_replicas),
            lambda: build_deployment(md, None),
        )
        service, service_message = await self._ensure_object(
            md, "Service", service_path, lambda: build_service(md), lambda: build_service(md)
        )
        messages = tuple(m for m in (deployment_message, service_message) if m)
        return EnsureResult(deployment=deployment, service=service, messages=messages)

    async def _ensure_object(
        self,
        md: Mapping[str, Any],
        kind: str,
        path_of: Callable[[str, str], str],
        build_for_create: Callable[[], dict[str, Any]],
        build_for_update: Callable[[], dict[str, Any]],
    ) -> tuple[Outcome, str]:
        namespace, name = _md_key(md)
        log = _log.bind(namespace=namespace, name=name, kind=kind)
        path = path_of(namespace, name)
        try:
            manifest = build_for_update()
            live = await self._get_or_none(path)
            if live is not None and not is_controlled_by(live, md):
                message = f"{kind} {name} exists and is {_owner_description(live)}: not adopted"
                log.warning("owned object conflict", reason=message)
                return Outcome.CONFLICT, message
            outcome = Outcome.UNCHANGED
            if live is None:
                live = await self._create(path, build_for_create())
                if live is None:
                    message = f"{kind} {name} was created by someone else meanwhile: not adopted"
                    log.warning("owned object conflict", reason=message)
                    return Outcome.CONFLICT, message
                outcome = Outcome.CREATED
            handover = replicas_handover(live)
            if handover is not None:
                live = await self._apply(path, handover, manager=SCALE_MANAGER, force=True)
            applied = await self._apply(path, manifest, force=True)
        except ManifestError as error:
            log.warning("owned object invalid", reason=str(error))
            return Outcome.INVALID, f"{kind} {name}: {error}"
        except ApiException as error:
            if _is_invalid(error):
                message = f"{kind} {name} rejected by the API server: {_api_message(error)}"
                log.warning("owned object invalid", reason=message)
                return Outcome.INVALID, message
            raise
        if outcome is Outcome.UNCHANGED and _applied_content(applied) != _applied_content(live):
            outcome = Outcome.UPDATED
        if outcome is not Outcome.UNCHANGED:
            log.info("owned object written", outcome=str(outcome))
        return outcome, ""

    # -- scale -------------------------------------------------------------------------------------

    async def get_scale(self, namespace: str, name: str) -> int | None:
        """The Deployment's spec.replicas from its /scale subresource; None if it does not exist."""
        scale = await self._get_or_none(f"{deployment_path(namespace, name)}/scale")
        if scale is None:
            return None
        # ScaleSpec.replicas is omitted when zero.
        return int((scale.get("spec") or {}).get("replicas", 0))

    async def set_scale(self, namespace: str, name: str, replicas: int) -> int | None:
        """Writes the Deployment's replicas through /scale; returns the new count, None if it is gone."""
        if replicas < 0:
            raise ValueError(f"replicas must not be negative (got {replicas})")
        try:
            scale = await self._call(
                "PATCH",
                f"{deployment_path(namespace, name)}/scale",
                query=[("fieldManager", SCALE_MANAGER)],
                body={"spec": {"replicas": replicas}},
                content_type=MERGE_PATCH,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        _log.info("scaled", namespace=namespace, name=name, replicas=replicas)
        return int((scale.get("spec") or {}).get("replicas", 0))

    # -- status ------------------------------------------------------------------------------------

    async def patch_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """JSON-merge-patches the ModelDeployment's status; returns the object, None if it is gone.

        Merge-patch semantics: lists (conditions, history) are replaced whole, a key set
        to None is removed, keys left out are kept.
        """
        try:
            patched: dict[str, Any] = await self._call(
                "PATCH",
                f"{modeldeployment_path(namespace, name)}/status",
                query=[("fieldManager", FIELD_MANAGER)],
                body={"status": dict(status)},
                content_type=MERGE_PATCH,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return patched

    # -- events ------------------------------------------------------------------------------------

    async def emit_event(
        self, md: Mapping[str, Any], type_: EventType, reason: str, message: str
    ) -> str | None:
        """Posts an Event about the ModelDeployment, or bumps the count of the same one posted before.

        Best effort: returns the Event's name, or None when the API server refused it
        (logged; an Event is never worth failing a tick for).
        """
        key = event_key(md, type_, reason, message)
        log = _log.bind(namespace=key.namespace, name=_md_key(md)[1], reason=reason)
        now = self._clock()
        try:
            seen = self._events.get(key)
            if seen is not None:
                try:
                    await self._call(
                        "PATCH",
                        f"{events_path(key.namespace)}/{_segment(seen.name)}",
                        body=build_repeat_patch(seen, now),
                        content_type=MERGE_PATCH,
                    )
                except ApiException as error:
                    if error.status != 404:
                        raise
                    self._events.forget(key)  # expired (the API server keeps Events for an hour)
                else:
                    self._events.remember(key, SeenEvent(seen.name, seen.count + 1))
                    return seen.name
            created = await self._call(
                "POST", events_path(key.namespace), body=build_event(md, key, now, self._reporting_instance)
            )
        except ApiException as error:
            log.warning("event not posted", status=error.status, error=_api_message(error))
            return None
        name = str(created["metadata"]["name"])
        self._events.remember(key, SeenEvent(name, 1))
        return name

    # -- other scalers -----------------------------------------------------------------------------

    async def find_competing_scalers(self, namespace: str, deployment_name: str) -> list[str]:
        """HPAs and KEDA ScaledObjects that target the Deployment, as "Kind/name".

        ScaledObjects are looked for only where KEDA is installed (a 404 on its API means
        it is not) and readable (a 403 means our role does not grant it: skipped).
        """
        hpa_list = await self._call(
            "GET", f"/apis/autoscaling/v2/namespaces/{_segment(namespace)}/horizontalpodautoscalers"
        )
        try:
            scaled_object_list = await self._call(
                "GET", KEDA_SCALED_OBJECTS.format(namespace=_segment(namespace))
            )
        except ApiException as error:
            if error.status not in (403, 404):
                raise
            scaled_object_list = {}
        return competing_scalers(
            deployment_name, hpa_list.get("items") or [], scaled_object_list.get("items") or []
        )


def _applied_content(obj: Mapping[str, Any]) -> tuple[object, ...]:
    """What our apply can change: labels, owner references and the spec except replicas.

    Compared before and after an apply to tell an update from a no-op; the resourceVersion
    cannot tell, as controllers write the status (and annotations) in between.
    """
    metadata = obj.get("metadata") or {}
    spec = {key: value for key, value in (obj.get("spec") or {}).items() if key != "replicas"}
    return metadata.get("labels"), metadata.get("ownerReferences"), spec
