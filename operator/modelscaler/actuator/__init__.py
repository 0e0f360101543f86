"""The only Kubernetes writer: the owned Deployment and Service, the Deployment's scale,
the ModelDeployment's status and Events (kube.py), built from pure parts: manifests
(manifests.py), field ownership (ownership.py), Event bodies and aggregation (events.py),
competing autoscalers (scalers.py) and the pod summary the control loop reads (pods.py).
"""

from modelscaler.actuator.kube import EnsureResult, KubeActuator, Outcome
from modelscaler.actuator.manifests import ManifestError, build_deployment, build_service
from modelscaler.actuator.pods import PodSummary, summarise_pods

__all__ = [
    "EnsureResult",
    "KubeActuator",
    "ManifestError",
    "Outcome",
    "PodSummary",
    "build_deployment",
    "build_service",
    "summarise_pods",
]
