"""Prometheus file_sd target files: one JSON file per deployment listing its Ready pods.

Each pod is a target group of its own, all at the simulator's address with a per-pod metrics path, and
with the ``__meta_kubernetes_*`` labels that Kubernetes service discovery would give, so that the same
relabelling as in production turns them into ``namespace``, ``pod`` and ``modeldeployment``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from .simulation import DeploymentKey

DEFAULT_INSTANCE = "trafficsim"
DEPLOYMENT_META_LABEL = "__meta_kubernetes_pod_label_serving_modelscaler_io_deployment"

log = structlog.get_logger("trafficsim.targets")


def target_groups(
    namespace: str, deployment: str, pods: Sequence[str], address: str
) -> list[dict[str, object]]:
    """The file_sd content for one deployment's Ready pods."""
    return [
        {
            "targets": [address],
            "labels": {
                "__metrics_path__": f"/metrics/{namespace}/{pod}",
                "__meta_kubernetes_namespace": namespace,
                "__meta_kubernetes_pod_name": pod,
                DEPLOYMENT_META_LABEL: deployment,
            },
        }
        for pod in sorted(pods)
    ]


def target_file_name(instance: str, key: DeploymentKey) -> str:
    """File name for a deployment ('_' cannot occur in Kubernetes names, so it separates safely)."""
    namespace, deployment = key
    return f"{instance}_{namespace}_{deployment}.json"


class TargetWriter:
    """Keeps the sd directory in line with the Ready pods; writes only files whose content changed.

    Files are named ``<instance>_<namespace>_<deployment>.json``: simulators with different instance
    names can share one directory.
    """

    def __init__(self, sd_dir: Path, address: str, instance: str = DEFAULT_INSTANCE) -> None:
        if not instance or "_" in instance or "/" in instance:
            raise ValueError(f"instance name {instance!r}: no '_' or '/', not empty")
        self.sd_dir = sd_dir
        self.address = address
        self.instance = instance
        self._written: dict[DeploymentKey, str] = {}

    def remove_stale_files(self) -> None:
        """Remove files a previous run left behind (their targets point to a port no longer served)."""
        self.sd_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.sd_dir.glob(f"{self.instance}_*.json"):
            stale.unlink(missing_ok=True)

    def write(self, ready: Mapping[DeploymentKey, Sequence[str]]) -> None:
        """Write changed deployments atomically; remove the files of deployments with no Ready pod."""
        for key, pods in ready.items():
            if not pods:
                continue
            content = json.dumps(target_groups(key[0], key[1], pods, self.address), indent=1)
            if self._written.get(key) != content:
                self._write_atomically(self.sd_dir / target_file_name(self.instance, key), content)
                self._written[key] = content
                log.info("targets written", namespace=key[0], deployment=key[1], pods=sorted(pods))
        for key in [key for key in self._written if not ready.get(key)]:
            (self.sd_dir / target_file_name(self.instance, key)).unlink(missing_ok=True)
            del self._written[key]
            log.info("targets removed", namespace=key[0], deployment=key[1])

    def remove_all(self) -> None:
        """Remove every file this writer wrote (on shutdown)."""
        self.write({})

    @staticmethod
    def _write_atomically(path: Path, content: str) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(content, encoding="utf-8")
        os.replace(temporary, path)
