"""The operator as a real process beside the local cluster, for end-to-end tests.

kwok runs no containers, so the operator runs as `python -m modelscaler run` on this
machine, against the local kube-apiserver and Prometheus, exactly as its image's
entry point would run it in a pod. Tests can kill it with SIGKILL and start it again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OperatorProcess:
    """One `modelscaler run` process; its log goes to a file the test can read on failure."""

    def __init__(
        self,
        *,
        kubeconfig: str,
        prometheus_url: str,
        namespace: str,
        log_dir: Path,
        identity: str = "operator-a",
        tick: float = 1.0,
        lease_duration: float = 4.0,
        lease_renew: float = 1.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.prometheus_url = prometheus_url
        self.namespace = namespace
        self.identity = identity
        self.tick = tick
        self.lease_duration = lease_duration
        self.lease_renew = lease_renew
        self.log_path = log_dir / f"operator-{identity}.log"
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        """Starts the process and waits until its /healthz answers."""
        env = dict(os.environ)
        env.update(
            {
                "MODELSCALER_PROMETHEUS_URL": self.prometheus_url,
                "MODELSCALER_LOG_FORMAT": "json",
                "MODELSCALER_LOG_LEVEL": "info",
                **self.extra_env,
            }
        )
        args = [
            sys.executable,
            "-m",
            "modelscaler",
            "run",
            "--kubeconfig",
            self.kubeconfig,
            "--namespace",
            self.namespace,
            "--tick",
            str(self.tick),
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(self.port),
            "--identity",
            self.identity,
            "--lease-namespace",
            self.namespace,
            "--lease-duration",
            str(self.lease_duration),
            "--lease-renew",
            str(self.lease_renew),
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.probe("/healthz") is not None:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"operator did not answer /healthz within 60 s:\n{self.log_tail()}")

    def probe(self, path: str) -> int | None:
        """The HTTP status of one of its endpoints, or None when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as resp:
                status: int = resp.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def metrics_text(self) -> str:
        """The operator's own /metrics exposition."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text: str = resp.read().decode()
            return text

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no Lease release (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM and wait: the clean shutdown path."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        """The end of its log, for assertion messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
