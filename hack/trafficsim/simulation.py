"""All deployments of the cluster: their profiles, their pods, one queueing model each.

Pure like the model: callers hand in the time. The real-time loop (``app.py``) holds the lock around it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import DeploymentModel, PodPresence, PodSnapshot, TraceLoader
from .profile import TrafficProfile

DeploymentKey = tuple[str, str]  # (namespace, ModelDeployment name)


@dataclass(frozen=True)
class PodInfo:
    """A pod as the watch reports it."""

    namespace: str
    name: str
    uid: str
    deployment: str
    ready: bool


class Simulation:
    """Profiles, pods and models of every deployment; idle deployments get ``default_profile``."""

    def __init__(self, trace_loader: TraceLoader, default_profile: TrafficProfile | None = None) -> None:
        self.default_profile = default_profile or TrafficProfile()
        self.profiles: dict[DeploymentKey, TrafficProfile] = {}
        self.models: dict[DeploymentKey, DeploymentModel] = {}
        self._pods: dict[tuple[str, str], PodInfo] = {}
        self._trace_loader = trace_loader

    def set_profile(self, key: DeploymentKey, profile: TrafficProfile, now: float) -> None:
        """Set a deployment's profile (creating its model if needed); it applies from ``now``."""
        model = self.models.get(key)
        if model is None:
            self.models[key] = DeploymentModel(key[1], profile, now, self._trace_loader)
            self.profiles[key] = profile
            self._sync_pods(key, now)
        else:
            model.set_profile(profile, now)
            self.profiles[key] = profile

    def delete_profile(self, key: DeploymentKey, now: float) -> bool:
        """Drop a deployment's profile (it falls back to the default); False if it had none."""
        if self.profiles.pop(key, None) is None:
            return False
        model = self.models.get(key)
        if model is not None:
            model.set_profile(self.default_profile, now)
        self._drop_if_unused(key)
        return True

    def observe_pod(self, pod: PodInfo, now: float) -> None:
        """A pod was added or changed."""
        previous = self._pods.get((pod.namespace, pod.name))
        self._pods[(pod.namespace, pod.name)] = pod
        if previous is not None and previous.deployment != pod.deployment:
            self._sync_pods((previous.namespace, previous.deployment), now)
        self._sync_pods((pod.namespace, pod.deployment), now)

    def forget_pod(self, namespace: str, name: str, now: float) -> None:
        """A pod was deleted."""
        previous = self._pods.pop((namespace, name), None)
        if previous is not None:
            self._sync_pods((namespace, previous.deployment), now)

    def replace_pods(self, pods: list[PodInfo], now: float) -> None:
        """The full set of pods, after a (re-)list: pods absent from it are gone."""
        keys = {(pod.namespace, pod.deployment) for pod in self._pods.values()}
        self._pods = {(pod.namespace, pod.name): pod for pod in pods}
        keys |= {(pod.namespace, pod.deployment) for pod in pods}
        for key in sorted(keys):
            self._sync_pods(key, now)

    def advance(self, now: float) -> None:
        """Advance every model to ``now``."""
        for model in self.models.values():
            model.advance(now)

    def pod_snapshot(self, namespace: str, pod_name: str) -> PodSnapshot | None:
        """The exported state of a pod, or None when no deployment knows it."""
        pod = self._pods.get((namespace, pod_name))
        if pod is None:
            return None
        model = self.models.get((namespace, pod.deployment))
        return model.snapshot(pod_name) if model is not None else None

    def ready_targets(self) -> dict[DeploymentKey, list[str]]:
        """Ready pod names per deployment (deployments without a Ready pod included, with [])."""
        return {key: model.ready_pods() for key, model in self.models.items()}

    def status(self) -> list[dict[str, object]]:
        """Profiles and live figures per deployment, sorted by namespace and name."""
        rows: list[dict[str, object]] = []
        for key in sorted(self.models):
            namespace, name = key
            profile = self.profiles.get(key)
            rows.append(
                {
                    "namespace": namespace,
                    "name": name,
                    "profile": profile.model_dump(mode="json", by_alias=True, exclude_none=True)
                    if profile is not None
                    else None,
                    **self.models[key].figures(),
                }
            )
        return rows

    def _sync_pods(self, key: DeploymentKey, now: float) -> None:
        namespace, deployment = key
        presence = {
            pod.name: PodPresence(pod.uid, pod.ready)
            for pod in self._pods.values()
            if pod.namespace == namespace and pod.deployment == deployment
        }
        model = self.models.get(key)
        if model is None:
            if not presence:
                return
            model = DeploymentModel(deployment, self.default_profile, now, self._trace_loader)
            self.models[key] = model
        model.set_pods(presence, now)
        self._drop_if_unused(key)

    def _drop_if_unused(self, key: DeploymentKey) -> None:
        model = self.models.get(key)
        if model is not None and key not in self.profiles and not model.pods:
            del self.models[key]
