"""Traffic simulator: stands in for model servers in the local (kwok) cluster.

For each Ready pod of each ModelDeployment it serves the metrics a real model server would, driven by a
traffic profile or a trace, and writes Prometheus file_sd targets for them. See ``docs/trafficsim.md``.
"""

from .client import TrafficSimError, TrafficSimProcess

__all__ = ["TrafficSimError", "TrafficSimProcess"]
