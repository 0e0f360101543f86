"""Start the simulator as a subprocess and drive its control API (for tests and scripts)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ENTRY_POINT = Path(__file__).resolve().parent.parent / "trafficsim.py"


class TrafficSimError(RuntimeError):
    """The simulator did not start, or refused a request (the message carries its answer)."""


class TrafficSimProcess:
    """A running simulator process: ``start()`` it, set profiles, read its status, ``stop()`` it."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        url: str,
        port: int,
        workdir: Path,
        sd_dir: Path,
        instance: str,
    ) -> None:
        self.process = process
        self.url = url
        self.port = port
        self.workdir = workdir
        self.sd_dir = sd_dir
        self.instance = instance

    @classmethod
    def start(
        cls,
        kubeconfig: str | Path,
        sd_dir: str | Path,
        *,
        config: str | Path | None = None,
        namespaces: list[str] | None = None,
        instance: str | None = None,
        tick_seconds: float = 0.05,
        startup_timeout: float = 30.0,
        log_path: str | Path | None = None,
    ) -> TrafficSimProcess:
        """Start ``hack/trafficsim.py`` on a free port and wait until it serves; logs go to ``log_path``.

        ``namespaces`` limits the pods it follows; ``instance`` names its target files (default: unique
        per process), so that it leaves other simulators' files in ``sd_dir`` alone.
        """
        workdir = Path(tempfile.mkdtemp(prefix="trafficsim-"))
        state_file = workdir / "state.json"
        log_file = Path(log_path) if log_path is not None else workdir / "trafficsim.log"
        command = [
            sys.executable,
            str(ENTRY_POINT),
            "--kubeconfig",
            str(kubeconfig),
            "--sd-dir",
            str(sd_dir),
            "--listen",
            "127.0.0.1:0",
            "--state-file",
            str(state_file),
            "--tick",
            str(tick_seconds),
        ]
        instance = instance or f"trafficsim-{uuid.uuid4().hex[:8]}"
        command += ["--instance", instance]
        for namespace in namespaces or []:
            command += ["--namespace", namespace]
        if config is not None:
            command += ["--config", str(config)]
        with open(log_file, "ab") as log_handle:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log_handle)
        deadline = time.monotonic() + startup_timeout
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                tail = log_file.read_text(errors="replace")[-2000:]
                raise TrafficSimError(f"trafficsim did not start (exit {process.returncode}): {tail}")
            time.sleep(0.05)
        state = json.loads(state_file.read_text())
        return cls(process, str(state["url"]), int(state["port"]), workdir, Path(sd_dir), instance)

    def set_profile(self, namespace: str, name: str, profile: dict[str, Any]) -> dict[str, Any]:
        """PUT a deployment's profile; raises TrafficSimError with the simulator's answer if refused."""
        return self._request("PUT", f"/traffic/{namespace}/{name}", profile)

    def delete_profile(self, namespace: str, name: str) -> dict[str, Any]:
        """DELETE a deployment's profile."""
        return self._request("DELETE", f"/traffic/{namespace}/{name}")

    def status(self) -> list[dict[str, Any]]:
        """Profiles and live figures per deployment."""
        deployments: list[dict[str, Any]] = self._request("GET", "/traffic")["deployments"]
        return deployments

    def deployment_status(self, namespace: str, name: str) -> dict[str, Any] | None:
        """One deployment's entry of ``status()``, or None."""
        return next(
            (row for row in self.status() if (row["namespace"], row["name"]) == (namespace, name)), None
        )

    def healthy(self) -> bool:
        """True when ``/healthz`` answers 200 (the ticker runs)."""
        try:
            return bool(self._request("GET", "/healthz")["healthy"])
        except TrafficSimError:
            return False

    def metrics(self, namespace: str, pod: str) -> str:
        """A pod's metrics page as the simulator serves it."""
        with urllib.request.urlopen(f"{self.url}/metrics/{namespace}/{pod}", timeout=10) as response:
            text: str = response.read().decode()
            return text

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the process (it removes its target files) and wait; kill it if it lingers.

        Target files a killed process could not remove are removed here.
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for leftover in self.sd_dir.glob(f"{self.instance}_*.json"):
            leftover.unlink(missing_ok=True)
        return int(self.process.returncode)

    def _request(self, method: str, path: str, payload: object | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as error:
            raise TrafficSimError(
                f"{method} {path}: {error.code} {error.read().decode(errors='replace')}"
            ) from error
