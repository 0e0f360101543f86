"""What a sandbox runs, saved as state.json in its directory so that `down` and `status` find it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hack import cluster as local_cluster

DEFAULT_NAME = "sandbox"
DEFAULT_NAMESPACE = "demo"
STATE_FILE = "state.json"


def sandboxes_root() -> Path:
    """${MODELSCALER_CACHE:-~/.cache/modelscaler}/sandbox: one directory per sandbox name."""
    return local_cluster.cache_root() / "sandbox"


def sandbox_dir(name: str) -> Path:
    """The state directory of the sandbox called `name`."""
    return sandboxes_root() / name


@dataclasses.dataclass
class SandboxState:
    """The sandbox's cluster, namespace and background processes (pids, ports, logs)."""

    name: str
    namespace: str
    state_dir: str
    cluster_state_dir: str
    # False when the sandbox reuses a cluster that MODELSCALER_CLUSTER named: `down` leaves it running.
    cluster_owned: bool
    started_at: float
    operator_pid: int = 0
    operator_port: int = 0
    operator_identity: str = ""
    trafficsim_pid: int = 0
    trafficsim_url: str = ""

    @property
    def directory(self) -> Path:
        """The sandbox's state directory."""
        return Path(self.state_dir)

    @property
    def path(self) -> Path:
        """Its state.json."""
        return self.directory / STATE_FILE

    @property
    def operator_log(self) -> Path:
        """The operator's log file."""
        return self.directory / "operator.log"

    @property
    def trafficsim_log(self) -> Path:
        """The traffic simulator's log file."""
        return self.directory / "trafficsim.log"

    @property
    def trafficsim_state_file(self) -> Path:
        """Where the simulator writes its pid and port once it serves."""
        return self.directory / "trafficsim.json"

    @property
    def trafficsim_config(self) -> Path:
        """The profiles given to the simulator, resolved from examples/sandbox/traffic.yaml."""
        return self.directory / "traffic.json"

    @property
    def operator_metrics_url(self) -> str:
        """The operator's own /metrics."""
        return f"http://127.0.0.1:{self.operator_port}/metrics"

    def cluster(self) -> local_cluster.ClusterState:
        """The state of the cluster the sandbox runs on (ClusterError when it has none any more)."""
        return local_cluster.resolve_state(self.cluster_state_dir)

    def save(self) -> None:
        """Write state.json atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        partial.replace(self.path)

    @classmethod
    def load(cls, name: str) -> SandboxState | None:
        """The saved state of the sandbox `name`, or None when there is none."""
        path = sandbox_dir(name) / STATE_FILE
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text()))
