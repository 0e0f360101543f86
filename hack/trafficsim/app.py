"""Command line: start the simulator (HTTP server, pod watch, ticker) and run until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import yaml

from .profile import TrafficProfile
from .server import SimulatorHTTPServer
from .service import TrafficService
from .simulation import DeploymentKey, Simulation
from .targets import DEFAULT_INSTANCE, TargetWriter
from .traces import load_trace

log = structlog.get_logger("trafficsim")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="trafficsim",
        description="Serve model-server metrics for the Ready pods of every ModelDeployment, "
        "driven by traffic profiles, and write Prometheus file_sd targets for them.",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig of the cluster (default: $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--sd-dir", required=True, type=Path, help="Prometheus file_sd directory to write")
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to serve on (port 0: any free)")
    parser.add_argument("--state-file", type=Path, help="write {port, address, url, pid} here once serving")
    parser.add_argument(
        "--config", type=Path, help="YAML file with initial profiles (see docs/trafficsim.md)"
    )
    parser.add_argument(
        "--namespace",
        action="append",
        dest="namespaces",
        help="follow pods of this namespace only (repeatable; default: all namespaces)",
    )
    parser.add_argument(
        "--instance",
        default=DEFAULT_INSTANCE,
        help="name prefixing this simulator's target files, so that several can share --sd-dir",
    )
    parser.add_argument("--tick", type=float, default=0.05, help="seconds between model ticks (default 0.05)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    """JSON log lines on stderr."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def load_config(path: Path) -> tuple[TrafficProfile | None, dict[DeploymentKey, TrafficProfile]]:
    """Read ``{default: PROFILE, traffic: [{namespace, name, profile: PROFILE}]}``.

    Relative trace paths are taken relative to the config file's directory (after expanding $VARS).
    """
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(document) - {"default", "traffic"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    base = path.resolve().parent
    default = (
        TrafficProfile.model_validate(_resolve_trace_path(document["default"], base))
        if document.get("default") is not None
        else None
    )
    profiles: dict[DeploymentKey, TrafficProfile] = {}
    for entry in document.get("traffic") or []:
        key = (str(entry["namespace"]), str(entry["name"]))
        profiles[key] = TrafficProfile.model_validate(_resolve_trace_path(entry.get("profile") or {}, base))
    return default, profiles


def _resolve_trace_path(profile: dict[str, Any], base: Path) -> dict[str, Any]:
    trace = profile.get("trace")
    if not isinstance(trace, dict) or "path" not in trace:
        return profile
    expanded = Path(os.path.expandvars(str(trace["path"]))).expanduser()
    return {
        **profile,
        "trace": {**trace, "path": str(expanded if expanded.is_absolute() else base / expanded)},
    }


def write_state_file(path: Path, state: dict[str, object]) -> None:
    """Write the state JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(state), encoding="utf-8")
    os.replace(temporary, path)


def _kubernetes_api(kubeconfig: str | None) -> Any:
    from kubernetes import client
    from kubernetes import config as kube_config

    config: Any = kube_config  # untyped module
    try:
        config.load_kube_config(config_file=kubeconfig)
    except config.ConfigException:
        if kubeconfig:
            raise
        config.load_incluster_config()
    return client.CoreV1Api()


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until a signal stops it."""
    args = parse_args(argv)
    configure_logging(args.log_level)
    default_profile, initial_profiles = load_config(args.config) if args.config else (None, {})

    host, _, port = args.listen.rpartition(":")
    simulation = Simulation(load_trace, default_profile)
    # The HTTP server is bound first: its port is the target address written into the sd files.
    targets = TargetWriter(args.sd_dir, address="", instance=args.instance)
    service = TrafficService(simulation, targets, tick_seconds=args.tick)
    bind_host = host or "127.0.0.1"
    server = SimulatorHTTPServer((bind_host, int(port or 0)), service)
    bound_port = int(server.server_address[1])
    targets.address = f"{bind_host}:{bound_port}"
    targets.remove_stale_files()
    for key, profile in initial_profiles.items():
        service.set_profile(key, profile)

    from .pods import PodWatcher

    watcher = PodWatcher(
        _kubernetes_api(args.kubeconfig),
        on_list=service.replace_pods,
        on_change=service.observe_pod,
        on_delete=service.forget_pod,
        stop=service.stopping,
        namespaces=frozenset(args.namespaces) if args.namespaces else None,
    )
    threads = [
        threading.Thread(target=watcher.run, name="pod-watch", daemon=True),
        threading.Thread(target=service.run_ticker, name="ticker", daemon=True),
    ]
    for thread in threads:
        thread.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        service.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state = {
        "pid": os.getpid(),
        "port": bound_port,
        "address": targets.address,
        "url": f"http://{targets.address}",
        "sd_dir": str(args.sd_dir),
    }
    if args.state_file:
        write_state_file(args.state_file, state)
    log.info("serving", **state)
    print(json.dumps(state), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        service.stopping.set()
        threads[1].join(timeout=5)
        server.server_close()
    log.info("stopped")
    return 0
