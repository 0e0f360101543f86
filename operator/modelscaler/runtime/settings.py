"""The operator's settings: command-line flags, each with an environment variable.

A flag wins over its variable; the variable wins over the default. The chart sets
the variables; a developer running `modelscaler run` locally uses the flags.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    """Everything the operator process needs to know at start."""

    namespaces: tuple[str, ...] = ()  # empty = cluster-wide
    tick_seconds: float = 2.0
    log_format: str = "console"  # console | json
    log_level: str = "info"
    http_host: str = "0.0.0.0"  # /metrics, /healthz, /readyz
    http_port: int = 8080
    # A tick that has not succeeded for this many intervals fails liveness.
    liveness_ticks: int = 10
    max_concurrent_writes: int = 16
    history_limit: int = 20
    # One active operator: a coordination.k8s.io Lease.
    leader_election: bool = True
    lease_name: str = "modelscaler-operator"
    lease_namespace: str = "default"
    lease_duration_seconds: float = 15.0
    lease_renew_seconds: float = 5.0
    identity: str = field(default_factory=lambda: os.environ.get("HOSTNAME", "") or f"pid-{os.getpid()}")
    # Pods older than this without turning Ready count as "starting" still (cold start).
    kubeconfig: str | None = None

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces


def _env(name: str, default: str) -> str:
    return os.environ.get(f"MODELSCALER_{name}", default)


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def build_parser() -> argparse.ArgumentParser:
    """The `modelscaler run` flags; each names its environment variable in its help."""
    d = OperatorSettings()
    p = argparse.ArgumentParser(
        prog="modelscaler run",
        description="Run the modelscaler operator: owned workloads, the control loop, status and Events.",
    )
    p.add_argument(
        "--namespace",
        action="append",
        dest="namespaces",
        default=None,
        help="watch only this namespace (repeatable); default cluster-wide. Env MODELSCALER_NAMESPACES "
        "(comma-separated)",
    )
    p.add_argument(
        "--tick",
        type=float,
        default=float(_env("TICK_SECONDS", str(d.tick_seconds))),
        help="seconds between control-loop ticks (env MODELSCALER_TICK_SECONDS)",
    )
    p.add_argument(
        "--log-format",
        choices=["console", "json"],
        default=_env("LOG_FORMAT", d.log_format),
        help="log format (env MODELSCALER_LOG_FORMAT)",
    )
    p.add_argument(
        "--log-level",
        default=_env("LOG_LEVEL", d.log_level),
        help="debug, info, warning or error (env MODELSCALER_LOG_LEVEL)",
    )
    p.add_argument(
        "--http-host",
        default=_env("HTTP_HOST", d.http_host),
        help="address of /metrics, /healthz, /readyz (env MODELSCALER_HTTP_HOST)",
    )
    p.add_argument(
        "--http-port",
        type=int,
        default=int(_env("HTTP_PORT", str(d.http_port))),
        help="port of /metrics, /healthz, /readyz; 0 picks a free one (env MODELSCALER_HTTP_PORT)",
    )
    p.add_argument(
        "--liveness-ticks",
        type=int,
        default=int(_env("LIVENESS_TICKS", str(d.liveness_ticks))),
        help="fail liveness after this many tick intervals without a successful tick "
        "(env MODELSCALER_LIVENESS_TICKS)",
    )
    p.add_argument(
        "--max-concurrent-writes",
        type=int,
        default=int(_env("MAX_CONCURRENT_WRITES", str(d.max_concurrent_writes))),
        help="API writes in flight at once (env MODELSCALER_MAX_CONCURRENT_WRITES)",
    )
    p.add_argument(
        "--no-leader-election",
        action="store_true",
        default=not _truthy(_env("LEADER_ELECTION", "true")),
        help="run without a Lease (one replica only!) (env MODELSCALER_LEADER_ELECTION=false)",
    )
    p.add_argument(
        "--lease-name",
        default=_env("LEASE_NAME", d.lease_name),
        help="name of the leader-election Lease (env MODELSCALER_LEASE_NAME)",
    )
    p.add_argument(
        "--lease-namespace",
        default=_env("LEASE_NAMESPACE", _pod_namespace() or d.lease_namespace),
        help="namespace of the Lease; defaults to the operator pod's own (env MODELSCALER_LEASE_NAMESPACE)",
    )
    p.add_argument(
        "--lease-duration",
        type=float,
        default=float(_env("LEASE_DURATION_SECONDS", str(d.lease_duration_seconds))),
        help="seconds a standby waits after the last renewal before taking over "
        "(env MODELSCALER_LEASE_DURATION_SECONDS)",
    )
    p.add_argument(
        "--lease-renew",
        type=float,
        default=float(_env("LEASE_RENEW_SECONDS", str(d.lease_renew_seconds))),
        help="seconds between renewals by the active operator (env MODELSCALER_LEASE_RENEW_SECONDS)",
    )
    p.add_argument(
        "--identity",
        default=_env("IDENTITY", d.identity),
        help="this process's name in the Lease (env MODELSCALER_IDENTITY; default the pod name)",
    )
    p.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="kubeconfig file; default in-cluster config, or KUBECONFIG",
    )
    return p


def _pod_namespace() -> str | None:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def parse_settings(argv: list[str]) -> OperatorSettings:
    """Flags and environment into settings; errors name the flag (argparse exits with status 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    namespaces: list[str] = args.namespaces or [
        n.strip() for n in _env("NAMESPACES", "").split(",") if n.strip()
    ]
    if args.tick <= 0:
        parser.error("--tick must be a positive number of seconds")
    if args.lease_renew >= args.lease_duration:
        parser.error("--lease-renew must be shorter than --lease-duration")
    return OperatorSettings(
        namespaces=tuple(namespaces),
        tick_seconds=args.tick,
        log_format=args.log_format,
        log_level=args.log_level,
        http_host=args.http_host,
        http_port=args.http_port,
        liveness_ticks=args.liveness_ticks,
        max_concurrent_writes=args.max_concurrent_writes,
        leader_election=not args.no_leader_election,
        lease_name=args.lease_name,
        lease_namespace=args.lease_namespace,
        lease_duration_seconds=args.lease_duration,
        lease_renew_seconds=args.lease_renew,
        identity=args.identity,
        kubeconfig=args.kubeconfig,
    )
