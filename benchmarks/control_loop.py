"""What one operator process costs at scale: N ModelDeployments on the local cluster, at steady load.

Part 1 (needs `hack/cluster.py up --name bench --nodes 10` running; more than ~250 deployments need
a kube-apiserver Service range wider than its default /24, see benchmarks/control_loop.md): creates
N ModelDeployments (one replica each, kwok pods) spread over a few namespaces, serves steady-load
series for every one of them from a synthetic exposition server scraped by a private Prometheus
(the project's scrape configuration and relabelling, at a production-like scrape interval), starts
`modelscaler run` over those namespaces, waits until every deployment has status and a known
signal, then measures a steady period:

- tick duration p50/p99 (the operator's histogram, interpolated in its buckets), mean (sum/count)
  and ticks per minute against the configured rate;
- Prometheus queries per tick (Prometheus' own request counter) and the batch's wall time (the
  operator's histogram);
- API writes per tick: the operator's own counter, and the API server's request counter for
  PATCH modeldeployments/status and deployments/scale (independent of the operator's bookkeeping),
  with the API server's mean latency of a status PATCH;
- the operator's RSS (now and peak), its CPU use, and the latency of its /healthz and /metrics
  while it works (a blocked event loop shows there first);
- the time from the operator's start until all N have status, and until all N are converged.

Part 2 (pure, no cluster, `--history-only` runs it alone): the CPU cost of one deployment's
`reconcile()` against the length of the in-memory history the diagnosis keeps (up to one hour),
which a few minutes of part 1 cannot show.

    .venv/bin/python benchmarks/control_loop.py [--deployments 100] [--minutes 1] [--markdown FILE]

Nothing is written into the repository unless --markdown names a file (the results are appended).
Everything it starts (operator, Prometheus, exposition server) is stopped at the end, and its
namespaces are deleted.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import http.server
import json
import math
import os
import re
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "operator")]

from hack import cluster as local_cluster  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

CRD = REPO / "crds" / "serving.modelscaler.io_modeldeployments.yaml"
PROMETHEUS_TEMPLATE = REPO / "hack" / "prometheus" / "prometheus.yml"
GROUP, VERSION, PLURAL = "serving.modelscaler.io", "v1alpha1", "modeldeployments"
NAMESPACE_PREFIX = "bench-cl-"
# Steady load per deployment: 0.6 requests/s of 0.5 s each = 0.3 in flight, under the 0.7 a
# replica carries (concurrencyTarget 1 x targetUtilization 0.7): one replica stays wanted.
REQUEST_RATE = 0.6
SERVICE_SECONDS = 0.5
FIRST_BYTE_SECONDS = 0.05
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


# ---------------------------------------------------------------- the fleet


@dataclasses.dataclass(frozen=True)
class Fleet:
    """The benchmark's ModelDeployments: `count` of them, round-robin over `namespace_count` namespaces."""

    count: int
    namespace_count: int

    @property
    def namespaces(self) -> list[str]:
        """The namespaces, bench-cl-0 ... bench-cl-(K-1)."""
        return [f"{NAMESPACE_PREFIX}{i}" for i in range(min(self.namespace_count, self.count))]

    def members(self) -> Iterator[tuple[str, str]]:
        """(namespace, name) of every deployment."""
        namespaces = self.namespaces
        for index in range(self.count):
            yield namespaces[index % len(namespaces)], f"md-{index:04d}"

    def names_in(self, namespace: str) -> list[str]:
        """The deployments of one namespace."""
        return [name for ns, name in self.members() if ns == namespace]


def model_deployment(namespace: str, name: str, start_delay: str) -> dict[str, Any]:
    """One ModelDeployment: one replica wanted, the engine's default windows, a tiny kwok pod."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"benchmark": "control-loop"}},
        "spec": {
            "environment": "bench",
            "template": {
                "metadata": {"annotations": {"modelscaler.io/start-delay": start_delay}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "example.invalid/model-server:1",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                        }
                    ]
                },
            },
            "serving": {"port": "http", "engine": "generic"},
            "autoscaling": {
                "minReplicas": 1,
                "maxReplicas": 4,
                "concurrencyTarget": 1,
                "targetUtilization": 0.7,
            },
        },
    }


# ---------------------------------------------------------------- synthetic series


def _histogram_lines(name: str, labels: str, count: float, each: float) -> list[str]:
    """A histogram whose every observation took `each` seconds."""
    buckets = [
        f'{name}_bucket{{{labels},le="{le}"}} {count if each <= le else 0.0}' for le in DURATION_BUCKETS
    ]
    return [
        *buckets,
        f'{name}_bucket{{{labels},le="+Inf"}} {count}',
        f"{name}_sum{{{labels}}} {count * each}",
        f"{name}_count{{{labels}}} {count}",
    ]


def namespace_page(names: Sequence[str], elapsed: float) -> str:
    """The generic contract's series for every deployment of one namespace, `elapsed` s into steady load.

    The namespace label comes from the target's __meta_kubernetes_namespace through the project's
    relabelling; the series carry `modeldeployment` and `pod` as a per-pod scrape would.
    """
    requests = REQUEST_RATE * elapsed
    lines: list[str] = []
    for name in names:
        labels = f'modeldeployment="{name}",pod="{name}-sim"'
        lines += _histogram_lines("modelscaler_request_duration_seconds", labels, requests, SERVICE_SECONDS)
        lines += _histogram_lines("modelscaler_request_queue_seconds", labels, requests, 0.0)
        lines += _histogram_lines(
            "modelscaler_time_to_first_byte_seconds", labels, requests, FIRST_BYTE_SECONDS
        )
        lines += [
            f'modelscaler_requests_total{{{labels},code="200"}} {requests}',
            f"modelscaler_requests_in_flight{{{labels}}} {REQUEST_RATE * SERVICE_SECONDS}",
            f"modelscaler_requests_waiting{{{labels}}} 0",
        ]
    return "\n".join(lines) + "\n"


class SeriesServer:
    """Serves /metrics/<namespace> for the fleet, with counters growing since the server started."""

    def __init__(self, fleet: Fleet) -> None:
        self.started = time.time()
        by_namespace = {ns: fleet.names_in(ns) for ns in fleet.namespaces}
        self.namespaces = sorted(by_namespace)
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def do_GET(self) -> None:
                namespace = self.path.rsplit("/", 1)[-1]
                if namespace not in by_namespace:
                    self.send_error(404)
                    return
                body = namespace_page(by_namespace[namespace], time.time() - owner.started).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def target_groups(self) -> list[dict[str, Any]]:
        """file_sd target groups: one scrape target per namespace, labelled as Kubernetes discovery would."""
        return [
            {
                "targets": [self.address],
                "labels": {"__metrics_path__": f"/metrics/{ns}", "__meta_kubernetes_namespace": ns},
            }
            for ns in self.namespaces
        ]

    def stop(self) -> None:
        """Stops serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- Prometheus


class PrivatePrometheus:
    """Debian's Prometheus with the project's scrape configuration, at the benchmark's scrape interval."""

    def __init__(self, binary: str, workdir: Path, scrape_interval: float) -> None:
        self.sd_dir = workdir / "file_sd"
        self.sd_dir.mkdir(parents=True)
        config = string.Template(PROMETHEUS_TEMPLATE.read_text()).substitute(file_sd_dir=self.sd_dir)
        interval = f"{scrape_interval:g}s"
        for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
            config = re.sub(rf"(\b{key}:) \S+", rf"\1 {interval}", config, count=1)
        (workdir / "prometheus.yml").write_text(config)
        port = local_cluster.free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        local_cluster.wait_until(lambda: local_cluster.http_ok(f"{self.url}/-/ready"), 60, "Prometheus")

    def set_targets(self, groups: list[dict[str, Any]]) -> None:
        """Writes the one file_sd file (atomically: Prometheus never reads it half-written)."""
        partial = self.sd_dir / ".targets.partial"
        partial.write_text(json.dumps(groups))
        partial.replace(self.sd_dir / "targets.json")

    def samples(self) -> Samples:
        """Prometheus' own metrics (its query counter is the benchmark's count of queries)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=30) as response:
            return parse_exposition(response.read().decode())

    def stop(self) -> None:
        """Stops Prometheus and waits for it."""
        stop_child(self.process)
        self.log.close()


def stop_child(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM a child process, SIGKILL after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ---------------------------------------------------------------- the operator process


class Operator:
    """`python -m modelscaler run` over the benchmark's namespaces, logging JSON to a file."""

    def __init__(
        self,
        kubeconfig: str,
        lease: Sequence[str],
        source: Path,
        namespaces: Sequence[str],
        prometheus: str,
        scrape: float,
        tick: float,
        log: Path,
    ) -> None:
        self.port = local_cluster.free_port()
        self.log_path = log
        args = [sys.executable, "-m", "modelscaler", "run", "--kubeconfig", kubeconfig]
        for namespace in namespaces:
            args += ["--namespace", namespace]
        args += ["--tick", f"{tick:g}", "--http-host", "127.0.0.1", "--http-port", str(self.port)]
        args += ["--identity", "bench", "--lease-namespace", namespaces[0], *lease]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")]),
            "MODELSCALER_PROMETHEUS_URL": prometheus,
            "MODELSCALER_PROMETHEUS_SCRAPE_INTERVAL_SECONDS": f"{scrape:g}",
            "MODELSCALER_LOG_FORMAT": "json",
            "MODELSCALER_LOG_LEVEL": "info",
        }
        with log.open("ab") as sink:
            self.process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env)
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def get(self, path: str, timeout: float = 30.0) -> tuple[bytes, float]:
        """GET one of its endpoints: the body and the seconds it took to answer."""
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as response:
            body: bytes = response.read()
        return body, time.monotonic() - started

    def wait_serving(self) -> None:
        """Waits until /healthz answers (the process started its HTTP server)."""

        def serving() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.process.returncode}; see {self.log_path}")
            return local_cluster.http_ok(f"http://127.0.0.1:{self.port}/healthz")

        local_cluster.wait_until(serving, 120, "the operator's /healthz")

    def stop(self) -> None:
        """SIGTERM (clean shutdown, the Lease released), SIGKILL if it hangs."""
        stop_child(self.process, grace=30)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB; empty once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, flags=re.MULTILINE)
    return {key: int(value) for key, value in found}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Prober:
    """Once a second: the operator's RSS and how long its /healthz takes to answer (event-loop lag)."""

    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self.rss_kib: list[int] = []
        self.healthz_seconds: list[float] = []
        self.recording = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            status = proc_status(self.operator.pid)
            if not self.recording or not status:
                continue
            self.rss_kib.append(status["VmRSS"])
            with contextlib.suppress(OSError):
                self.healthz_seconds.append(self.operator.get("/healthz")[1])

    def stop(self) -> None:
        """Stops probing."""
        self._stop.set()
        self._thread.join(timeout=35)


# ---------------------------------------------------------------- reading figures


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_exposition(text: str) -> Samples:
    """Every sample of a text exposition, keyed by (name, sorted labels)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: Samples, name: str, **match: str) -> float:
    """The sum of the samples of `name` whose labels include `match`."""
    return sum(
        value
        for (sample_name, labels), value in samples.items()
        if sample_name == name and all(dict(labels).get(k) == v for k, v in match.items())
    )


def bucket_quantile(before: Samples, after: Samples, name: str, q: float) -> float | None:
    """The q-quantile of a histogram's observations between two snapshots, interpolated in its buckets."""
    bounds: list[tuple[float, float]] = []
    for (sample_name, labels), value in after.items():
        if sample_name == f"{name}_bucket":
            le = float(dict(labels)["le"])
            bounds.append((le, value - before.get((sample_name, labels), 0.0)))
    bounds.sort()
    if not bounds or bounds[-1][1] <= 0:
        return None
    rank = q * bounds[-1][1]
    lower, below = 0.0, 0.0
    for upper, cumulative in bounds:
        if cumulative >= rank:
            if math.isinf(upper):
                return lower
            inside = cumulative - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, cumulative
    return None


def log_records(path: Path, start: int, end: int | None = None) -> list[dict[str, Any]]:
    """The operator's JSON log lines between two byte offsets."""
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read() if end is None else handle.read(end - start)
    records = []
    for line in data.decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def apiserver_samples(state: local_cluster.ClusterState) -> Samples:
    """The API server's request counters and request-duration sums/counts (the families read here)."""
    raw = local_cluster.kubectl_run(state, ["get", "--raw", "/metrics"]).stdout
    families = (
        "apiserver_request_total",
        "apiserver_request_duration_seconds_sum",
        "apiserver_request_duration_seconds_count",
    )
    wanted = [line for line in raw.splitlines() if line.startswith(tuple(f + "{" for f in families))]
    return parse_exposition("\n".join(wanted) + "\n")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# ---------------------------------------------------------------- the run


@dataclasses.dataclass
class Result:
    """The figures of one run."""

    deployments: int
    namespaces: int
    tick: float
    scrape_interval: float
    steady_seconds: float = 0.0
    create_seconds: float = 0.0
    all_status_seconds: float | None = None
    converged_seconds: float | None = None
    ticks: float = 0.0
    tick_errors: float = 0.0
    tick_p50: float | None = None
    tick_p99: float | None = None
    tick_mean: float | None = None
    batch_p50: float | None = None
    batch_p99: float | None = None
    batch_mean: float | None = None
    queries_per_tick: float | None = None
    writes_per_tick: dict[str, float] = dataclasses.field(default_factory=dict)
    apiserver_per_tick: dict[str, float] = dataclasses.field(default_factory=dict)
    status_patch_latency: float | None = None
    rss_mib: float | None = None
    rss_start_mib: float | None = None
    peak_rss_mib: float | None = None
    cpu_share: float | None = None
    healthz_p50: float | None = None
    healthz_max: float | None = None
    metrics_seconds: float | None = None
    metrics_kib: float | None = None
    write_failures: int = 0
    load_average: str = ""
    lease: str = "operator defaults (15 s / 5 s)"

    def rows(self) -> list[tuple[str, str]]:
        """(figure, value) pairs for the table."""

        def s(value: float | None, unit: str = " s", digits: int = 3) -> str:
            return "-" if value is None else f"{value:.{digits}f}{unit}"

        writes = ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.writes_per_tick.items())) or "0"
        server = ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.apiserver_per_tick.items())) or "0"
        return [
            ("deployments / namespaces", f"{self.deployments} / {self.namespaces}"),
            ("tick / scrape interval", f"{self.tick:g} s / {self.scrape_interval:g} s"),
            ("lease duration / renew", self.lease),
            ("create N objects (client, 8 threads)", s(self.create_seconds, digits=1)),
            ("operator start -> all N have status", s(self.all_status_seconds, digits=1)),
            ("operator start -> all N converged", s(self.converged_seconds, digits=1)),
            (
                "steady window",
                f"{self.steady_seconds:.0f} s, {self.ticks:.0f} ticks ({self.tick_errors:.0f} failed)",
            ),
            ("tick duration p50 / p99 (histogram)", f"{s(self.tick_p50)} / {s(self.tick_p99)}"),
            ("tick duration mean (sum/count)", s(self.tick_mean)),
            (
                "ticks per minute (configured)",
                f"{self.ticks * 60 / max(self.steady_seconds, 1):.1f} ({60 / self.tick:g})",
            ),
            (
                "Prometheus batch p50 / p99 / mean (histogram)",
                f"{s(self.batch_p50)} / {s(self.batch_p99)} / {s(self.batch_mean)}",
            ),
            (
                "Prometheus queries per tick (Prometheus' counter)",
                s(self.queries_per_tick, unit="", digits=1),
            ),
            ("API writes per tick (operator counter)", writes),
            ("API server requests per tick", server),
            ("API server latency of PATCH md/status (mean)", s(self.status_patch_latency)),
            ("write failures in the window", str(self.write_failures)),
            (
                "RSS after convergence / end / peak",
                f"{s(self.rss_start_mib, ' MiB', 0)} / "
                f"{s(self.rss_mib, ' MiB', 0)} / {s(self.peak_rss_mib, ' MiB', 0)}",
            ),
            ("operator CPU (share of one core)", s(self.cpu_share, unit="", digits=2)),
            ("/healthz latency p50 / max", f"{s(self.healthz_p50)} / {s(self.healthz_max)}"),
            ("/metrics scrape (size, time)", f"{s(self.metrics_kib, ' KiB', 0)}, {s(self.metrics_seconds)}"),
            ("load average (1 min) start -> end", self.load_average),
        ]


def load_average() -> str:
    """The 1-minute load average of the machine."""
    return Path("/proc/loadavg").read_text().split()[0]


def prepare_namespaces(core: Any, fleet: Fleet) -> None:
    """Creates the fleet's namespaces, first waiting for leftovers of an earlier run to be gone."""
    from kubernetes.client.exceptions import ApiException

    for namespace in fleet.namespaces:

        def absent(ns: str = namespace) -> bool:
            try:
                core.read_namespace(ns)
            except ApiException as error:
                return bool(error.status == 404)
            return False

        if not absent():
            local_cluster.progress(f"waiting for namespace {namespace} of an earlier run to be deleted")
            local_cluster.wait_until(absent, 600, f"namespace {namespace} to be deleted", interval=2)
        core.create_namespace({"metadata": {"name": namespace, "labels": {"benchmark": "control-loop"}}})


def create_fleet(custom: Any, fleet: Fleet, start_delay: str) -> float:
    """Creates every ModelDeployment with a small thread pool; returns the seconds it took."""
    started = time.monotonic()

    def create(member: tuple[str, str]) -> None:
        namespace, name = member
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, model_deployment(namespace, name, start_delay)
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, fleet.members()))
    return time.monotonic() - started


def count_progress(custom: Any, fleet: Fleet) -> tuple[int, int]:
    """(ModelDeployments with a status, ModelDeployments converged: 1 ready of 1 desired, signal known)."""
    with_status = converged = 0
    for namespace in fleet.namespaces:
        listing = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        for item in listing.get("items", []):
            status = item.get("status") or {}
            if not status.get("conditions"):
                continue
            with_status += 1
            active = any(
                c.get("type") == "ScalingActive" and c.get("status") == "True" for c in status["conditions"]
            )
            if active and status.get("readyReplicas") == 1 and status.get("desiredReplicas") == 1:
                converged += 1
    return with_status, converged


def measure(args: argparse.Namespace) -> Result:
    """Part 1: the whole run against the local cluster; everything started is stopped at the end."""
    from kubernetes import client, config

    state = local_cluster.resolve_state(args.cluster)
    if not local_cluster.is_healthy(state):
        sys.exit(
            f"cluster {args.cluster!r} is not healthy: hack/cluster.py up --name {args.cluster} --nodes 10"
        )
    fleet = Fleet(args.deployments, args.namespaces)
    result = Result(args.deployments, len(fleet.namespaces), args.tick, args.scrape_interval)
    if args.lease_duration is not None:
        result.lease = f"{args.lease_duration:g} s / {args.lease_renew:g} s"
    api = config.new_client_from_config(config_file=state.kubeconfig)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    workdir = Path(tempfile.mkdtemp(prefix="control-loop-bench-"))
    local_cluster.kubectl_run(state, ["apply", "--server-side", "--force-conflicts", "-f", str(CRD)])
    local_cluster.kubectl_run(
        state, ["wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}", "--timeout=60s"]
    )
    prepare_namespaces(core, fleet)
    started: list[Any] = []
    try:
        series = SeriesServer(fleet)
        started.append(series)
        prometheus = PrivatePrometheus(state.prometheus_binary, workdir, args.scrape_interval)
        started.append(prometheus)
        prometheus.set_targets(series.target_groups())
        local_cluster.progress(
            f"creating {fleet.count} ModelDeployments in {len(fleet.namespaces)} namespaces"
        )
        result.create_seconds = create_fleet(custom, fleet, args.start_delay)
        local_cluster.progress(f"created in {result.create_seconds:.1f} s; starting the operator")
        lease = []
        if args.lease_duration is not None:
            lease = ["--lease-duration", f"{args.lease_duration:g}", "--lease-renew", f"{args.lease_renew:g}"]
        operator = Operator(
            state.kubeconfig,
            lease,
            args.operator_path,
            fleet.namespaces,
            prometheus.url,
            args.scrape_interval,
            args.tick,
            workdir / "operator.log",
        )
        started.append(operator)
        operator.wait_serving()
        prober = Prober(operator)
        started.append(prober)
        deadline = operator.started + args.converge_timeout
        while time.monotonic() < deadline:
            with_status, converged = count_progress(custom, fleet)
            elapsed = time.monotonic() - operator.started
            if with_status == fleet.count and result.all_status_seconds is None:
                result.all_status_seconds = elapsed
            local_cluster.progress(f"{elapsed:5.0f} s: {with_status} with status, {converged} converged")
            if converged == fleet.count:
                result.converged_seconds = elapsed
                break
            if operator.process.poll() is not None:
                raise RuntimeError(f"the operator exited; see {operator.log_path}")
            time.sleep(args.poll)
        local_cluster.progress(f"warming up for {args.warmup:g} s, then measuring for {args.minutes:g} min")
        time.sleep(args.warmup)
        steady(args, state, prometheus, operator, prober, result)
        local_cluster.progress(f"operator log: {operator.log_path}")
    finally:
        for part in reversed(started):
            part.stop()
        if not args.keep:
            local_cluster.progress("deleting the benchmark's namespaces")
            for namespace in fleet.namespaces:
                local_cluster.kubectl_run(
                    state, ["delete", "namespace", namespace, "--wait=false"], check=False
                )
        api.close()
    return result


def steady(
    args: argparse.Namespace,
    state: local_cluster.ClusterState,
    prometheus: PrivatePrometheus,
    operator: Operator,
    prober: Prober,
    result: Result,
) -> None:
    """Measures the steady window: counters before and after, log lines and probes in between."""
    result.load_average = load_average()
    log_start = operator.log_path.stat().st_size
    server_before = apiserver_samples(state)
    queries_before = prometheus.samples()
    text, _ = operator.get("/metrics")
    before = parse_exposition(text.decode())
    cpu_before, window_start = cpu_seconds(operator.pid), time.monotonic()
    result.rss_start_mib = proc_status(operator.pid).get("VmRSS", 0) / 1024
    prober.recording = True
    time.sleep(args.minutes * 60)
    prober.recording = False
    text, result.metrics_seconds = operator.get("/metrics")
    after = parse_exposition(text.decode())
    result.steady_seconds = time.monotonic() - window_start
    cpu_used = cpu_seconds(operator.pid) - cpu_before
    server_after = apiserver_samples(state)
    queries_after = prometheus.samples()
    result.metrics_kib = len(text) / 1024
    result.load_average += f" -> {load_average()}"

    tick_name = "modelscaler_operator_tick_duration_seconds"
    ticks = total(after, f"{tick_name}_count") - total(before, f"{tick_name}_count")
    result.ticks = ticks
    result.tick_errors = total(after, "modelscaler_operator_ticks_total", outcome="error") - total(
        before, "modelscaler_operator_ticks_total", outcome="error"
    )
    per_tick = max(ticks, 1.0)
    if ticks:
        result.tick_mean = (total(after, f"{tick_name}_sum") - total(before, f"{tick_name}_sum")) / ticks
        result.tick_p50 = bucket_quantile(before, after, tick_name, 0.5)
        result.tick_p99 = bucket_quantile(before, after, tick_name, 0.99)
    for kind in ("scale", "status", "event"):
        name = "modelscaler_operator_api_writes_total"
        result.writes_per_tick[kind] = (
            total(after, name, kind=kind) - total(before, name, kind=kind)
        ) / per_tick
    requests = {
        "PATCH md/status": {"verb": "PATCH", "resource": PLURAL, "subresource": "status"},
        "PATCH deploy/scale": {"verb": "PATCH", "resource": "deployments", "subresource": "scale"},
        "GET md": {"verb": "GET", "resource": PLURAL},
    }
    for label, match in requests.items():
        delta = total(server_after, "apiserver_request_total", **match) - total(
            server_before, "apiserver_request_total", **match
        )
        result.apiserver_per_tick[label] = delta / per_tick

    patch_status = {"verb": "PATCH", "resource": PLURAL, "subresource": "status"}
    patches = total(server_after, "apiserver_request_duration_seconds_count", **patch_status) - total(
        server_before, "apiserver_request_duration_seconds_count", **patch_status
    )
    if patches:
        seconds = total(server_after, "apiserver_request_duration_seconds_sum", **patch_status) - total(
            server_before, "apiserver_request_duration_seconds_sum", **patch_status
        )
        result.status_patch_latency = seconds / patches

    query = {"handler": "/api/v1/query"}
    queries = total(queries_after, "prometheus_http_requests_total", **query) - total(
        queries_before, "prometheus_http_requests_total", **query
    )
    result.queries_per_tick = queries / per_tick
    batch_name = "modelscaler_operator_prometheus_query_duration_seconds"
    batches = total(after, f"{batch_name}_count") - total(before, f"{batch_name}_count")
    if batches:
        result.batch_mean = (total(after, f"{batch_name}_sum") - total(before, f"{batch_name}_sum")) / batches
        result.batch_p50 = bucket_quantile(before, after, batch_name, 0.5)
        result.batch_p99 = bucket_quantile(before, after, batch_name, 0.99)
    records = log_records(operator.log_path, log_start)
    result.write_failures = sum(1 for r in records if r.get("event") in {"write failed", "tick failed"})

    status = proc_status(operator.pid)
    result.rss_mib = status.get("VmRSS", 0) / 1024
    result.peak_rss_mib = status.get("VmHWM", 0) / 1024
    result.cpu_share = cpu_used / result.steady_seconds
    result.healthz_p50 = percentile(prober.healthz_seconds, 0.5)
    result.healthz_max = max(prober.healthz_seconds, default=None)


# ---------------------------------------------------------------- part 2: reconcile against history


def reconcile_costs(
    tick: float, marks_minutes: Sequence[float], repeats: int = 30
) -> list[tuple[float, int, float, float]]:
    """(minutes of history, samples held, mean and max CPU seconds per reconcile) for one deployment.

    One deployment is reconciled tick after tick as the loop would (its status counted as written);
    at each mark the next `repeats` ticks are timed (CPU time): their mean (the CPU a tick costs on
    average, whatever runs only on some ticks) and their maximum.
    """
    from modelscaler.actuator.pods import PodSummary
    from modelscaler.engine.types import Observation
    from modelscaler.runtime.reconcile import Inputs, Readings, Tracked, reconcile

    body = model_deployment("bench", "md-0", "0s")
    body["metadata"].update({"uid": "uid-0", "generation": 1})
    deployment = {"replicas": 1, "status_replicas": 1, "owners": ["uid-0"]}
    concurrency = REQUEST_RATE * SERVICE_SECONDS
    tracked, now, done = Tracked(), 1_800_000_000.0, 0
    costs: list[tuple[float, int, float, float]] = []

    def one_tick() -> None:
        nonlocal now
        observation = Observation(
            time=now,
            ready_replicas=1,
            starting_replicas=0,
            current_replicas=1,
            stable_concurrency=concurrency,
            burst_concurrency=concurrency,
            arrival_concurrency_stable=concurrency,
            arrival_concurrency_burst=concurrency,
        )
        inputs = Inputs(
            body=body,
            deployment=deployment,
            pods=PodSummary(ready=1),
            observation=observation,
            readings=Readings(
                latency_p50=SERVICE_SECONDS, latency_p95=SERVICE_SECONDS, request_rate=REQUEST_RATE
            ),
        )
        plan = reconcile(inputs, tracked, now)
        if plan.status is not None:
            tracked.written_status, tracked.written_at = plan.status, now
        now += tick

    for minutes in marks_minutes:
        while done * tick < minutes * 60:
            one_tick()
            done += 1
        seconds = []
        for _ in range(repeats):
            # CPU time, not wall time: on a busy machine other processes would inflate the latter.
            started = time.process_time()
            one_tick()
            seconds.append(time.process_time() - started)
        done += repeats
        costs.append((minutes, len(tracked.samples), statistics.mean(seconds), max(seconds)))
    return costs


def history_table(tick: float, deployments: int) -> list[str]:
    """Part 2 as markdown lines."""
    lines = [
        f"| history held | samples | CPU per deployment, mean / max | x {deployments}, mean per tick |",
        "|---|---|---|---|",
    ]
    for minutes, samples, mean, most in reconcile_costs(tick, (0, 5, 15, 30, 45, 50, 60)):
        cost = f"{mean * 1000:.2f} / {most * 1000:.2f} ms"
        lines.append(f"| {minutes:g} min | {samples} | {cost} | {mean * deployments:.2f} s |")
    return lines


# ---------------------------------------------------------------- main


def markdown(result: Result, command: str) -> list[str]:
    """Part 1 as a markdown section."""
    lines = [
        f"### {result.deployments} ModelDeployments",
        "",
        f"`{command}`",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value} |" for name, value in result.rows()]
    return [*lines, ""]


def main(argv: Sequence[str] | None = None) -> int:
    """Runs part 1 (unless --history-only) and part 2, prints the tables, appends them to --markdown."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--namespaces", type=int, default=10, help="spread the deployments over this many")
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the steady window")
    parser.add_argument(
        "--warmup", type=float, default=30.0, help="seconds between convergence and the window"
    )
    parser.add_argument("--tick", type=float, default=2.0, help="the operator's --tick")
    parser.add_argument("--scrape-interval", type=float, default=15.0, help="Prometheus' scrape interval")
    parser.add_argument("--start-delay", default="2s", help="kwok's time from container start to Ready")
    parser.add_argument("--converge-timeout", type=float, default=900.0)
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between convergence checks")
    parser.add_argument("--cluster", default="bench", help="the local cluster's name (hack/cluster.py)")
    parser.add_argument(
        "--lease-duration", type=float, help="the operator's --lease-duration (default: the operator's own)"
    )
    parser.add_argument("--lease-renew", type=float, default=5.0, help="with --lease-duration")
    parser.add_argument(
        "--operator-path",
        type=Path,
        default=REPO / "operator",
        help="source root of the operator to run and to time in part 2 (to measure a change side by side)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the namespaces in place at the end")
    parser.add_argument("--history-only", action="store_true", help="run part 2 only (no cluster)")
    parser.add_argument("--markdown", type=Path, help="append the results to this markdown file")
    args = parser.parse_args(argv)
    command = "python benchmarks/control_loop.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out: list[str] = []
    if not args.history_only:
        result = measure(args)
        width = max(len(name) for name, _ in result.rows())
        print(f"\ncontrol loop, {result.deployments} ModelDeployments")
        for name, value in result.rows():
            print(f"  {name:<{width}}  {value}")
        out += markdown(result, command)
    sys.path.insert(0, str(args.operator_path))  # part 2 measures the same source as part 1 ran
    history = history_table(args.tick, args.deployments)
    print(f"\nreconcile() of one deployment against the history it holds (tick {args.tick:g} s)")
    print("\n".join(history))
    out += [f"### reconcile() against history (tick {args.tick:g} s)", "", f"`{command}`", "", *history, ""]
    if args.markdown is not None:
        with args.markdown.open("a") as handle:
            handle.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
