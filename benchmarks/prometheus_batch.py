"""How many queries one tick costs, and how long one batch takes against a real Prometheus.

Part 1 counts the queries the planner builds for 1, 100 and 1,000 deployments (no I/O).
Part 2 starts a private Prometheus (Debian's `prometheus` binary) on 127.0.0.1, serves
synthetic exposition for N deployments (generic, vLLM and SGLang, one pod each) from one
http.server target whose series already carry the contract's labels (`honor_labels`), waits
for a few scrapes, then times full batches through `PrometheusSource`.

    .venv/bin/python benchmarks/prometheus_batch.py [--deployments 1000] [--batches 5]
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from modelscaler.metrics.batch import DeploymentQuery, PlanOptions, plan_batch
from modelscaler.metrics.contract import Engine
from modelscaler.metrics.settings import PrometheusSettings
from modelscaler.metrics.source import PrometheusSource

SCRAPE_INTERVAL = 5.0
ENGINE_CYCLE = (Engine.GENERIC, Engine.VLLM, Engine.GENERIC, Engine.VLLM, Engine.SGLANG)
START = time.time()


def fleet(count: int, namespaces: int = 50) -> list[tuple[DeploymentQuery, Engine]]:
    """`count` deployments spread over namespaces, engines mixed 2:2:1 (generic, vLLM, SGLang)."""
    return [
        (DeploymentQuery(f"team-{i % namespaces}", f"model-{i}"), ENGINE_CYCLE[i % len(ENGINE_CYCLE)])
        for i in range(count)
    ]


def count_queries() -> None:
    """Part 1: queries per tick from the planner, for several fleet sizes and window mixes."""
    print("queries per tick (planner, no I/O)")
    print(f"{'deployments':>12} {'generic only':>13} {'3 engines':>10} {'3 engines, 2 stable windows':>28}")
    for n in (1, 100, 1000):
        generic = [DeploymentQuery(f"ns{i % 50}", f"md{i}") for i in range(n)]
        mixed = fleet(n)
        two_windows = [
            DeploymentQuery(d.namespace, d.name, stable_window=60 if i % 2 else 120)
            for i, (d, _) in enumerate(mixed)
        ]
        engines = {d.key: e for d, e in mixed}
        counts = (
            len(plan_batch(generic, {d.key: Engine.GENERIC for d in generic}).queries),
            len(plan_batch([d for d, _ in mixed], engines).queries),
            len(plan_batch(two_windows, engines).queries),
        )
        print(f"{n:>12} {counts[0]:>13} {counts[1]:>10} {counts[2]:>28}")


def histogram(name: str, labels: str, count: float, each: float) -> list[str]:
    lines = [
        f'{name}_bucket{{{labels},le="{le}"}} {count if each <= float(le) else 0.0}'
        for le in ("0.25", "1", "5", "+Inf")
    ]
    return [*lines, f"{name}_sum{{{labels}}} {count * each}", f"{name}_count{{{labels}}} {count}"]


def exposition(deployments: list[tuple[DeploymentQuery, Engine]], now: float) -> str:
    """Series for every deployment, with counters growing at 1 request/s."""
    n = now - START
    lines: list[str] = []
    for d, engine in deployments:
        labels = f'namespace="{d.namespace}",modeldeployment="{d.name}",pod="{d.name}-0"'
        if engine is Engine.GENERIC:
            lines += histogram("modelscaler_request_duration_seconds", labels, n, 0.5)
            lines += [
                f'modelscaler_requests_total{{{labels},code="200"}} {n}',
                f"modelscaler_requests_in_flight{{{labels}}} 1",
                f"modelscaler_async_queue_size{{{labels}}} 0",
            ]
        elif engine is Engine.VLLM:
            lines += histogram("vllm:e2e_request_latency_seconds", labels, n, 2.0)
            lines += histogram("vllm:request_inference_time_seconds", labels, n, 1.5)
            lines += histogram("vllm:time_to_first_token_seconds", labels, n, 0.2)
            lines += [
                f"vllm:num_requests_running{{{labels}}} 2",
                f"vllm:num_requests_waiting{{{labels}}} 1",
                f"vllm:kv_cache_usage_perc{{{labels}}} 0.5",
                f"vllm:prompt_tokens_total{{{labels}}} {100 * n}",
            ]
        else:
            lines += histogram("sglang:e2e_request_latency_seconds", labels, n, 2.0)
            lines += [
                f"sglang:num_running_reqs{{{labels}}} 2",
                f"sglang:num_queue_reqs{{{labels}}} 0",
                f"sglang:token_usage{{{labels}}} 0.4",
            ]
    return "\n".join(lines) + "\n"


def serve(deployments: list[tuple[DeploymentQuery, Engine]]) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def handle(self) -> None:
            # Prometheus may give up on a slow scrape; it retries at the next interval.
            with contextlib.suppress(BrokenPipeError):
                super().handle()

        def do_GET(self) -> None:
            data = exposition(deployments, time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_prometheus(workdir: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus")
    if binary is None:
        sys.exit("prometheus not found: apt-get install prometheus (or run hack/cluster.py up once)")
    config = workdir / "prometheus.yml"
    config.write_text(
        f"global: {{scrape_interval: {SCRAPE_INTERVAL:g}s, scrape_timeout: {SCRAPE_INTERVAL:g}s}}\n"
        "scrape_configs:\n"
        "  - job_name: bench\n"
        "    honor_labels: true\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("prometheus did not become ready")


def time_batches(count: int, batches: int) -> None:
    """Part 2: wall time of full batches against a local Prometheus holding `count` deployments."""
    deployments = fleet(count)
    server = serve(deployments)
    with tempfile.TemporaryDirectory(prefix="prombench-") as tmp:
        process, url = start_prometheus(Path(tmp), f"127.0.0.1:{server.server_address[1]}")
        try:
            settings = PrometheusSettings(
                url=url, scrape_interval_seconds=SCRAPE_INTERVAL, timeout_seconds=30
            )
            wait = 5 * SCRAPE_INTERVAL
            print(f"\nserving {count} deployments; letting Prometheus scrape for {wait:g} s ...")
            time.sleep(wait)
            queries = [d for d, _ in deployments]
            with PrometheusSource(settings) as source:
                seconds: list[float] = []
                for i in range(batches):
                    batch = source.collect(queries)
                    known = sum(1 for s in batch.signals.values() if s.scaling_known)
                    failed = sum(1 for t in batch.timings if t.failed is not None)
                    seconds.append(batch.seconds)
                    print(
                        f"batch {i + 1}: {batch.query_count} queries, {batch.seconds:.3f} s, "
                        f"{known}/{count} deployments with known concurrency, {failed} failed queries"
                    )
                slowest = sorted(batch.timings, key=lambda t: t.seconds, reverse=True)[:3]
                print(
                    "slowest queries of the last batch: "
                    + ", ".join(f"{t.name} {t.seconds:.2f} s" for t in slowest)
                )
            print(
                f"one batch for {count} deployments: median {statistics.median(seconds):.3f} s, "
                f"min {min(seconds):.3f} s, max {max(seconds):.3f} s "
                f"(2 cores, {settings.max_parallel_queries} query threads)"
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
            server.shutdown()


def main() -> None:
    """Runs both parts."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    count_queries()
    print(f"(plan for 1,000 deployments built in {plan_seconds(1000) * 1000:.0f} ms)")
    time_batches(args.deployments, args.batches)


def plan_seconds(count: int) -> float:
    """How long the planner takes for `count` deployments."""
    deployments = fleet(count)
    engines = {d.key: e for d, e in deployments}
    started = time.perf_counter()
    plan_batch([d for d, _ in deployments], engines, PlanOptions())
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
