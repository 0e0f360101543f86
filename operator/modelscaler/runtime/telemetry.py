"""The operator's own Prometheus metrics, in one registry served at /metrics.

Names start with `modelscaler_operator_` so they never collide with the model
servers' `modelscaler_request_*` series that the operator reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Telemetry:
    """The operator's metrics; one instance per process (tests make their own)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.tick_duration = Histogram(
            "modelscaler_operator_tick_duration_seconds",
            "Wall time of one control-loop tick (all deployments).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.ticks = Counter(
            "modelscaler_operator_ticks_total", "Control-loop ticks, by outcome.", ["outcome"], registry=r
        )
        self.last_successful_tick = Gauge(
            "modelscaler_operator_last_successful_tick_timestamp_seconds",
            "Unix time of the last tick that completed.",
            registry=r,
        )
        self.decisions = Counter(
            "modelscaler_operator_decisions_total",
            "Scaling decisions applied, by direction (up, down, none).",
            ["direction"],
            registry=r,
        )
        self.query_duration = Histogram(
            "modelscaler_operator_prometheus_query_duration_seconds",
            "Wall time of one Prometheus batch (all queries of a tick).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.query_errors = Counter(
            "modelscaler_operator_prometheus_query_errors_total",
            "Prometheus queries that failed or gave an unusable answer.",
            registry=r,
        )
        self.api_writes = Counter(
            "modelscaler_operator_api_writes_total",
            "Writes to the Kubernetes API, by kind (scale, status, event).",
            ["kind"],
            registry=r,
        )
        self.pods = Gauge(
            "modelscaler_pod_readiness",
            "Pods of a ModelDeployment by readiness state (ready, starting).",
            ["namespace", "modeldeployment", "state"],
            registry=r,
        )
        self.restarts = Gauge(
            "modelscaler_pod_restarts",
            "Container restarts seen on a ModelDeployment's current pods, by termination reason.",
            ["namespace", "modeldeployment", "reason"],
            registry=r,
        )
        self.replicas = Gauge(
            "modelscaler_replicas",
            "Replica counts of a ModelDeployment (desired, ready, starting).",
            ["namespace", "modeldeployment", "kind"],
            registry=r,
        )
        self.condition = Gauge(
            "modelscaler_condition",
            "A ModelDeployment's condition: one series per type, labelled with its current status, value 1.",
            ["namespace", "modeldeployment", "type", "status"],
            registry=r,
        )
        self.is_leader = Gauge(
            "modelscaler_operator_leader", "1 while this process holds the leader Lease.", registry=r
        )

    def forget(self, namespace: str, name: str) -> None:
        """Drops every labelled series of a deleted ModelDeployment."""
        for metric in (self.pods, self.restarts, self.replicas, self.condition):
            for labels in list(metric._metrics):  # prometheus_client has no public "labels matching"
                if labels[:2] == (namespace, name):
                    metric.remove(*labels)
