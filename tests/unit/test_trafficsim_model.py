"""The traffic simulator's pure parts: arrivals, the queueing model, exposition, traces, targets.

Every test drives the model with an injected clock (the ``now`` argument); figures are checked against
queueing theory (Little's law, M/D/inf, Pollaczek-Khinchine for M/D/1) or against hand-computed timelines.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hack.trafficsim.app import load_config
from hack.trafficsim.arrivals import PoissonSchedule, TraceReplay
from hack.trafficsim.exposition import render_pod_metrics
from hack.trafficsim.model import DeploymentModel, PodPresence
from hack.trafficsim.pods import PodWatcher, pod_info
from hack.trafficsim.profile import ServiceSpec, TokenSpec, TraceSpec, TrafficProfile
from hack.trafficsim.simulation import PodInfo, Simulation
from hack.trafficsim.targets import DEPLOYMENT_META_LABEL, TargetWriter, target_groups
from hack.trafficsim.traces import TraceError, TraceRequest, load_trace
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from modelscaler.metrics.contract import ASYNC_QUEUE_GAUGE, ENGINE_METRICS, Engine


def no_trace(trace: TraceSpec, service: ServiceSpec, tokens: TokenSpec, seed: int) -> Sequence[TraceRequest]:
    raise AssertionError("this test loads no trace")


def model_with(
    profile: dict[str, Any], pods: Sequence[str] = ("a",), requests: Sequence[TraceRequest] = ()
) -> DeploymentModel:
    """A model at t=0 with the given profile and Ready pods; ``requests`` stand for any trace file."""

    def loader(
        trace: TraceSpec, service: ServiceSpec, tokens: TokenSpec, seed: int
    ) -> Sequence[TraceRequest]:
        return requests

    model = DeploymentModel(
        "demo", TrafficProfile.model_validate(profile), 0.0, loader if requests else no_trace
    )
    model.set_pods({name: PodPresence(f"uid-{name}", True) for name in pods}, 0.0)
    return model


def trace_profile(seconds: float, **overrides: Any) -> dict[str, Any]:
    """Arrivals from a trace, each served in a constant ``seconds``."""
    return {
        "trace": {"path": "unused", "format": "csv"},
        "service": {"kind": "constant", "seconds": seconds},
        **overrides,
    }


def at(*offsets: float) -> list[TraceRequest]:
    """Trace requests arriving at these offsets (their own service times are overridden by the profile)."""
    return [TraceRequest(float(offset), 99.0) for offset in offsets]


def run_sampling(model: DeploymentModel, until: float, step: float) -> list[int]:
    """Advance in steps and return the requests in the model (in service + waiting) after each step."""
    samples, now = [], 0.0
    while now < until:
        now += step
        model.advance(now)
        figures = model.figures()
        samples.append(int(figures["in_service"]) + int(figures["waiting"]))  # type: ignore[call-overload]
    return samples


def mean_latency(model: DeploymentModel) -> float:
    total = sum(pod.counters.duration.sum for pod in model.pods.values())
    count = sum(pod.counters.duration.count for pod in model.pods.values())
    return total / count


# ----- arrivals ------------------------------------------------------------------------------------------


def test_poisson_arrivals_come_at_the_rate() -> None:
    schedule = PoissonSchedule([(0.0, 20.0)], start=100.0, rng=random.Random(7))
    times = []
    while (upcoming := schedule.peek()) is not None and upcoming.time < 2100.0:
        times.append(schedule.pop().time)
    assert times[0] > 100.0
    assert times == sorted(times)
    # 40,000 expected, standard deviation 200.
    assert abs(len(times) - 40_000) < 800


def test_step_schedule_follows_each_step_and_repeats_with_a_period() -> None:
    schedule = PoissonSchedule(
        [(0.0, 10.0), (100.0, 0.0), (200.0, 40.0)], 0.0, random.Random(3), period=300.0
    )
    counts = [0] * 6
    while (upcoming := schedule.peek()) is not None and upcoming.time < 1800.0:
        counts[int(schedule.pop().time // 100) % 6] += 1
    per_hundred_seconds = [count / 3 for count in counts]  # each 100-s slot of the 300-s cycle, 3 cycles
    assert abs(per_hundred_seconds[0] - 1000) < 120
    assert per_hundred_seconds[1] == 0
    assert abs(per_hundred_seconds[2] - 4000) < 250
    assert abs(per_hundred_seconds[3] - 1000) < 120


def test_a_schedule_ending_at_rate_zero_stops() -> None:
    schedule = PoissonSchedule([(0.0, 5.0), (10.0, 0.0)], 0.0, random.Random(1))
    times = []
    while schedule.peek() is not None:
        times.append(schedule.pop().time)
    assert 20 < len(times) < 90
    assert max(times) < 10.0


def test_trace_replay_compresses_and_loops() -> None:
    replay = TraceReplay(
        [TraceRequest(0.0, 1.0), TraceRequest(10.0, 1.0), TraceRequest(20.0, 1.0)], 5.0, 10.0, True
    )
    times = [replay.pop().time for _ in range(5)]
    # Span = last offset + mean gap = 30 trace seconds = 3 simulated seconds per round.
    assert times == pytest.approx([5.0, 6.0, 7.0, 8.0, 9.0])
    once = TraceReplay([TraceRequest(0.0, 1.0), TraceRequest(4.0, 1.0)], 0.0, 2.0, loop=False)
    assert [once.pop().time, once.pop().time] == [0.0, 2.0]
    assert once.peek() is None


# ----- queueing model --------------------------------------------------------------------------------------


def test_littles_law_and_infinite_server_occupancy() -> None:
    # Plenty of capacity: M/D/inf, mean occupancy = rate x service = 10 x 0.4 = 4.
    model = model_with({"rate": 10, "service": {"seconds": 0.4}, "capacity": 1000, "seed": 11})
    samples = run_sampling(model, until=2000.0, step=0.05)
    time_averaged = sum(samples) / len(samples)
    arrival_rate = model.totals.arrivals / 2000.0
    assert time_averaged == pytest.approx(4.0, rel=0.05)
    assert time_averaged == pytest.approx(arrival_rate * mean_latency(model), rel=0.03)
    assert mean_latency(model) == pytest.approx(0.4)


def test_queueing_when_capacity_is_short_matches_md1() -> None:
    # M/D/1 at load 0.8: waiting = rho / (2 mu (1 - rho)) = 2 s, so latency = 3 s (Pollaczek-Khinchine).
    model = model_with(
        {"rate": 0.8, "service": {"seconds": 1.0}, "capacity": 1, "queue_limit": 10_000, "seed": 5}
    )
    samples = run_sampling(model, until=40_000.0, step=0.5)
    assert mean_latency(model) == pytest.approx(3.0, rel=0.1)
    assert max(samples) > 3
    assert sum(samples) / len(samples) == pytest.approx(
        model.totals.arrivals / 40_000 * mean_latency(model), rel=0.05
    )
    assert model.totals.refused == 0


def test_beyond_the_queue_limit_requests_are_refused_with_503() -> None:
    model = model_with({"rate": 5, "service": {"seconds": 1.0}, "capacity": 1, "queue_limit": 3, "seed": 2})
    pod = model.pods["a"]
    deepest = 0
    for tenth in range(1, 2001):
        model.advance(tenth / 10)
        deepest = max(deepest, len(pod.waiting))
    assert deepest == 3
    assert pod.counters.responses["503"] == model.totals.refused
    assert model.totals.refused > 0.7 * model.totals.arrivals
    assert pod.counters.responses["200"] == pytest.approx(200, abs=2)  # one per second of service
    assert model.totals.arrivals == model.totals.served + model.totals.refused + pod.load


def test_least_loaded_pod_gets_the_request() -> None:
    # Three requests at t=0 and t=0.5 for pods a and b of capacity 1, then pod c turns Ready at t=1.
    model = model_with(trace_profile(10, capacity=1), ("a", "b"), at(0.0, 0.0, 0.5, 2.0))
    model.advance(0.6)
    assert [len(model.pods[name].running) for name in ("a", "b")] == [1, 1]
    assert sum(len(model.pods[name].waiting) for name in ("a", "b")) == 1
    model.set_pods({name: PodPresence(f"uid-{name}", True) for name in ("a", "b", "c")}, 1.0)
    model.advance(2.0)
    assert len(model.pods["c"].running) == 1  # the t=2 arrival went to the idle newcomer


def test_load_spreads_evenly_over_ready_pods() -> None:
    model = model_with({"rate": 30, "service": {"seconds": 0.1}, "seed": 4}, ("a", "b", "c"))
    model.advance(600.0)
    served = [model.pods[name].counters.responses["200"] for name in ("a", "b", "c")]
    assert min(served) > 0.95 * max(served)


def test_degradation_slows_service_above_the_per_pod_load() -> None:
    # Four simultaneous requests: the 3rd and 4th start with 3 and 4 at the pod (> 2), so take 3 x 1 s.
    model = model_with(
        trace_profile(1, capacity=10, degrade={"above": 2, "factor": 3}),
        ("a",),
        at(0, 0, 0, 0),
    )
    model.advance(10.0)
    durations = model.pods["a"].counters.duration
    assert durations.count == 4
    assert durations.sum == pytest.approx(1 + 1 + 3 + 3)


def test_without_ready_pods_requests_wait_then_time_out() -> None:
    model = model_with(trace_profile(1, timeout=5), (), at(0.0, 1.0, 7.0))
    model.advance(6.5)
    assert model.totals.timed_out == 2
    model.advance(8.0)
    assert len(model.pending) == 1
    model.set_pods({"a": PodPresence("uid-a", True)}, 9.0)  # the t=7 request is served after waiting 2 s
    model.advance(20.0)
    assert model.pods["a"].counters.duration.sum == pytest.approx(3.0)
    assert model.totals.served == 1


def test_a_deleted_pod_drops_its_running_requests_and_hands_over_its_queue() -> None:
    model = model_with(trace_profile(10, capacity=1), ("a", "b"), at(0, 0, 0, 0))
    model.advance(1.0)
    model.set_pods({"b": PodPresence("uid-b", True)}, 1.0)
    assert model.totals.dropped == 1
    assert len(model.pods["b"].running) == 1
    assert len(model.pods["b"].waiting) == 2
    model.advance(100.0)
    assert model.totals.served == 3


def test_an_unready_pod_finishes_its_requests_but_takes_no_new_ones() -> None:
    model = model_with(trace_profile(2, capacity=1), ("a", "b"), at(0, 0, 1, 1))
    model.set_pods({"a": PodPresence("uid-a", False), "b": PodPresence("uid-b", True)}, 0.5)
    model.advance(10.0)
    assert model.pods["a"].counters.responses["200"] == 1
    assert model.pods["b"].counters.responses["200"] == 3
    assert model.ready_pods() == ["b"]


def test_async_queue_grows_when_capacity_is_short_and_new_pods_drain_it() -> None:
    model = model_with(
        {"rate": 4, "service": {"seconds": 1}, "capacity": 2, "async": True, "seed": 9}, ("a",)
    )
    model.advance(60.0)
    assert len(model.async_queue) > 60
    assert model.totals.refused == 0
    snapshot = model.snapshot("a")
    assert snapshot is not None
    assert snapshot.async_queue == len(model.async_queue)
    assert snapshot.waiting == 0
    model.set_pods({name: PodPresence(name, True) for name in ("a", "b", "c", "d")}, 60.0)
    shares = [model.snapshot(name).async_queue for name in ("a", "b", "c", "d")]  # type: ignore[union-attr]
    assert sum(shares) == len(model.async_queue)
    model.advance(400.0)
    assert len(model.async_queue) < 10  # capacity 8/s against 4/s: the backlog drains


def test_profile_change_keeps_counters_and_restarts_arrivals() -> None:
    model = model_with({"rate": 10, "service": {"seconds": 0.1}, "seed": 1})
    model.advance(100.0)
    served_before = model.pods["a"].counters.responses["200"]
    model.set_profile(TrafficProfile(rate=0.0), 100.0)
    model.advance(200.0)
    assert model.pods["a"].counters.responses["200"] >= served_before
    assert model.totals.arrivals == model.totals.served


# ----- exposition -------------------------------------------------------------------------------------------


def families_of(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


@pytest.mark.parametrize(
    ("engine", "running_name", "waiting_name", "latency_name"),
    [
        (
            "generic",
            "modelscaler_requests_in_flight",
            "modelscaler_requests_waiting",
            "modelscaler_request_duration_seconds",
        ),
        (
            "vllm",
            "vllm:num_requests_running",
            "vllm:num_requests_waiting",
            "vllm:e2e_request_latency_seconds",
        ),
        ("sglang", "sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:e2e_request_latency_seconds"),
    ],
)
def test_each_engine_exports_valid_text_with_its_names(
    engine: str, running_name: str, waiting_name: str, latency_name: str
) -> None:
    model = model_with({"engine": engine, "rate": 6, "capacity": 1, "service": {"seconds": 0.5}, "seed": 3})
    model.advance(30.0)
    snapshot = model.snapshot("a")
    assert snapshot is not None
    families = families_of(render_pod_metrics(snapshot))
    waiting = families[waiting_name].samples[0].value
    running = families[running_name].samples[0].value
    assert waiting == snapshot.waiting > 0
    assert running == (snapshot.running + snapshot.waiting if engine == "generic" else snapshot.running)
    latency_samples = {sample.name: sample.value for sample in families[latency_name].samples}
    assert latency_samples[f"{latency_name}_count"] == model.pods["a"].counters.duration.count
    assert "modelscaler_async_queue_size" not in families


@pytest.mark.parametrize("engine", list(ENGINE_METRICS))
def test_every_series_the_operator_reads_is_exported(engine: Engine) -> None:
    contract = ENGINE_METRICS[engine]
    model = model_with({"engine": engine.value, "rate": 5, "async": True, "seed": 1})
    model.advance(10.0)
    snapshot = model.snapshot("a")
    assert snapshot is not None
    exported = {
        sample.name
        for family in families_of(render_pod_metrics(snapshot)).values()
        for sample in family.samples
    }
    histograms = [
        contract.latency_histogram,
        contract.first_byte_histogram,
        contract.queue_time_histogram,
        contract.service_time_histogram,
        contract.request_size_histogram,
        contract.response_size_histogram,
    ]
    gauges_and_counters = [
        *contract.population,
        contract.in_service,
        contract.waiting,
        contract.status_counter,
        contract.prompt_tokens_counter,
        contract.generation_tokens_counter,
        *contract.kv_cache_usage[:1],
        *contract.presence,
        ASYNC_QUEUE_GAUGE,
    ]
    expected = {f"{name}_count" for name in histograms if name} | {
        name for name in gauges_and_counters if name
    }
    assert expected <= exported


def test_queue_and_service_time_add_up_to_the_duration() -> None:
    model = model_with(trace_profile(2, capacity=1), ("a",), at(0, 0, 1))
    model.advance(10.0)
    counters = model.pods["a"].counters
    assert counters.queue_time.sum == pytest.approx(0 + 2 + 3)
    assert counters.service_time.sum == pytest.approx(6)
    assert counters.duration.sum == pytest.approx(counters.queue_time.sum + counters.service_time.sum)


def test_vllm_exports_status_classes_tokens_and_kv_cache() -> None:
    model = model_with(
        {"engine": "vllm", "rate": 8, "capacity": 1, "queue_limit": 1, "seed": 3, "model_name": 'm"x'}
    )
    model.advance(20.0)
    snapshot = model.snapshot("a")
    assert snapshot is not None
    text = render_pod_metrics(snapshot)
    assert 'model_name="m\\"x"' in text
    families = families_of(text)
    by_status = {sample.labels["status"]: sample.value for sample in families["http_requests"].samples}
    assert by_status["5xx"] == model.totals.refused > 0
    assert by_status["2xx"] == model.totals.served
    assert families["vllm:prompt_tokens"].samples[0].value == 512 * model.totals.served
    assert 0 < families["vllm:kv_cache_usage_perc"].samples[0].value <= 1


def test_async_mode_exports_the_queue() -> None:
    model = model_with({"rate": 5, "capacity": 1, "service": {"seconds": 1}, "async": True, "seed": 1})
    model.advance(20.0)
    snapshot = model.snapshot("a")
    assert snapshot is not None
    families = families_of(render_pod_metrics(snapshot))
    assert families["modelscaler_async_queue_size"].samples[0].value == len(model.async_queue) > 0


# ----- traces -----------------------------------------------------------------------------------------------


def test_traces_are_read_with_the_token_service_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = tmp_path / "azure.csv"
    trace.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,1000,40\n2023-11-16 18:15:50.9951690,2000,100\n"
    )
    monkeypatch.setenv("TRACE_DIR", str(tmp_path))
    service = ServiceSpec(base=0.1, per_prompt_token=0.0001, per_output_token=0.01)
    requests = load_trace(TraceSpec(path="$TRACE_DIR/azure.csv", format="azure"), service, TokenSpec(), 0)
    assert [request.arrival for request in requests] == pytest.approx([0.0, 4.314579])
    assert [request.service for request in requests] == pytest.approx([0.1 + 0.1 + 0.4, 0.1 + 0.2 + 1.0])
    assert [request.prefill for request in requests] == pytest.approx([0.2, 0.3])


def test_a_trace_that_fails_to_load_leaves_the_profile_in_place(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("1.0\n2.0\nnot-a-number\n")
    model = DeploymentModel("demo", TrafficProfile(rate=1.0), 0.0, load_trace)
    with pytest.raises(TraceError, match="3"):
        model.set_profile(
            TrafficProfile.model_validate({"trace": {"path": str(broken), "format": "csv"}}), 1.0
        )
    assert model.profile.rate == 1.0


def test_a_trace_gives_service_and_first_byte_unless_the_profile_overrides_them() -> None:
    requests = [TraceRequest(0.0, 2.5), TraceRequest(1.0, 1.6, 1.1)]
    replayed = model_with({"trace": {"path": "unused"}}, ("a",), requests)
    replayed.advance(10.0)
    counters = replayed.pods["a"].counters
    # The trace's service times; the first byte at its prefill, or 10 % of the service without one.
    assert counters.duration.sum == pytest.approx(2.5 + 1.6)
    assert counters.first_byte.sum == pytest.approx(0.25 + 1.1)
    constant = model_with(trace_profile(0.5), ("a",), requests)
    constant.advance(10.0)
    assert constant.pods["a"].counters.duration.sum == pytest.approx(1.0)


def test_token_service_without_a_trace_uses_the_profile_tokens() -> None:
    model = model_with(
        {
            "rate": 2,
            "seed": 1,
            "service": {"kind": "tokens", "base": 0.2, "per_prompt_token": 0.001, "per_output_token": 0.01},
            "tokens": {"prompt": 300, "output": 50},
        }
    )
    model.advance(30.0)
    service_times = model.pods["a"].counters.service_time
    assert service_times.count > 30
    assert service_times.sum / service_times.count == pytest.approx(0.2 + 0.3 + 0.5)


# ----- profile validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"rate": 1, "steps": [[0, 1]]},
        {"steps": [[5, 1]]},
        {"steps": [[0, 1], [10, -1]]},
        {"rate": 1, "period": 10},
        {"engine": "tgi"},
        {"capacity": 0},
        {"rate": 1, "unknown": True},
    ],
)
def test_invalid_profiles_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrafficProfile.model_validate(body)


def test_config_file_sets_initial_profiles_with_paths_relative_to_it(tmp_path: Path) -> None:
    config = tmp_path / "traffic.yaml"
    config.write_text(
        "default: {rate: 0.5}\n"
        "traffic:\n"
        "  - {namespace: demo, name: llama, profile: {trace: {path: traces/a.csv, compress: 4}}}\n"
        "  - {namespace: demo, name: clf, profile: {steps: [[0, 5], [60, 1]], period: 120}}\n"
    )
    default, profiles = load_config(config)
    assert default == TrafficProfile(rate=0.5)
    llama = profiles[("demo", "llama")]
    assert llama.trace is not None
    assert llama.trace.path == str(tmp_path / "traces" / "a.csv")
    assert profiles[("demo", "clf")].step_schedule() == [(0, 5), (60, 1)]
    config.write_text("defaults: {rate: 1}\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_config(config)


def test_async_is_spelled_async_on_the_wire() -> None:
    profile = TrafficProfile.model_validate({"async": True, "steps": [[0, 1], [60, 5]], "period": 120})
    assert profile.async_mode
    assert profile.model_dump(by_alias=True)["async"] is True


# ----- simulation, pods, targets ----------------------------------------------------------------------------


def test_simulation_follows_pods_and_profiles() -> None:
    simulation = Simulation(no_trace)
    simulation.observe_pod(PodInfo("ns", "p1", "u1", "demo", ready=True), 0.0)
    simulation.observe_pod(PodInfo("ns", "p2", "u2", "demo", ready=False), 0.0)
    assert simulation.ready_targets() == {("ns", "demo"): ["p1"]}
    simulation.set_profile(("ns", "demo"), TrafficProfile(rate=5, seed=1), 0.0)
    simulation.observe_pod(PodInfo("ns", "p2", "u2", "demo", ready=True), 1.0)
    simulation.advance(60.0)
    assert {name for name in ("p1", "p2") if simulation.pod_snapshot("ns", name) is not None} == {"p1", "p2"}
    simulation.replace_pods([PodInfo("ns", "p2", "u2", "demo", ready=True)], 61.0)
    assert simulation.ready_targets() == {("ns", "demo"): ["p2"]}
    assert simulation.pod_snapshot("ns", "p1") is None
    assert simulation.delete_profile(("ns", "demo"), 62.0)
    simulation.forget_pod("ns", "p2", 63.0)
    assert simulation.ready_targets() == {}


def test_pod_info_reads_the_label_and_readiness() -> None:
    def pod(ready: str, deleting: bool = False, labels: dict[str, str] | None = None) -> k8s.V1Pod:
        return k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(
                namespace="ns",
                name="p",
                uid="u",
                labels={"serving.modelscaler.io/deployment": "demo"} if labels is None else labels,
                deletion_timestamp="2026-01-01T00:00:00Z" if deleting else None,
            ),
            status=k8s.V1PodStatus(conditions=[k8s.V1PodCondition(type="Ready", status=ready)]),
        )

    assert pod_info(pod("True")) == PodInfo("ns", "p", "u", "demo", ready=True)
    assert pod_info(pod("False")) == PodInfo("ns", "p", "u", "demo", ready=False)
    assert pod_info(pod("True", deleting=True)) == PodInfo("ns", "p", "u", "demo", ready=False)
    assert pod_info(pod("True", labels={})) is None


class FakePodsApi:
    """Answers list calls from a script: a pod list (items, resourceVersion) or an exception to raise."""

    def __init__(self, answers: list[tuple[list[k8s.V1Pod], str] | Exception]) -> None:
        self.answers = answers

    def list_pod_for_all_namespaces(self, **_: Any) -> k8s.V1PodList:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        items, version = answer
        return k8s.V1PodList(items=items, metadata=k8s.V1ListMeta(resource_version=version))


class FakeWatch:
    """Plays one script per stream() call: events, then optionally an exception; records where it resumed."""

    def __init__(
        self, scripts: list[tuple[list[dict[str, Any]], Exception | None]], stop: threading.Event
    ) -> None:
        self.scripts = scripts
        self.stop_event = stop
        self.resumed_from: list[str] = []

    def stream(self, _: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.resumed_from.append(kwargs["resource_version"])
        if not self.scripts:
            self.stop_event.set()
            return
        events, failure = self.scripts.pop(0)
        yield from events
        if failure is not None:
            raise failure

    def stop(self) -> None:
        self.stop_event.set()


def labelled_pod(name: str, version: str, ready: bool = True) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            namespace="ns",
            name=name,
            uid=f"uid-{name}",
            resource_version=version,
            labels={"serving.modelscaler.io/deployment": "demo"},
        ),
        status=k8s.V1PodStatus(conditions=[k8s.V1PodCondition(type="Ready", status=str(ready))]),
    )


def test_pod_watch_resumes_from_bookmarks_and_lists_again_after_errors() -> None:
    stop = threading.Event()
    api = FakePodsApi(
        [ConnectionError("refused"), ([labelled_pod("p1", "9")], "10"), ([labelled_pod("p2", "19")], "20")]
    )
    watch = FakeWatch(
        [
            (
                [
                    {"type": "MODIFIED", "object": labelled_pod("p1", "11", ready=False)},
                    {"type": "ADDED", "object": labelled_pod("p2", "12")},
                    {"type": "BOOKMARK", "raw_object": {"metadata": {"resourceVersion": "15"}}},
                ],
                None,  # the stream times out: watch again from the bookmark
            ),
            ([], ApiException(status=410)),  # too old: list again
            ([{"type": "DELETED", "object": labelled_pod("p2", "21")}], None),
        ],
        stop,
    )
    seen: list[tuple[str, object]] = []
    watcher = PodWatcher(
        api,
        on_list=lambda pods: seen.append(("list", sorted(pod.name for pod in pods))),
        on_change=lambda pod: seen.append(("change", (pod.name, pod.ready))),
        on_delete=lambda namespace, name: seen.append(("delete", name)),
        stop=stop,
        watch_factory=lambda: watch,
        retry_seconds=(0.0,),
    )
    watcher.run()
    assert seen == [
        ("list", ["p1"]),
        ("change", ("p1", False)),
        ("change", ("p2", True)),
        ("list", ["p2"]),
        ("delete", "p2"),
    ]
    assert watch.resumed_from == ["10", "15", "20", "21"]


def test_target_files_list_ready_pods_and_disappear_with_them(tmp_path: Path) -> None:
    (tmp_path / "trafficsim_old_gone.json").write_text("[]")
    (tmp_path / "other_ns_demo.json").write_text("[]")  # another writer's: left alone
    writer = TargetWriter(tmp_path, "127.0.0.1:9999")
    writer.remove_stale_files()
    assert [path.name for path in tmp_path.iterdir()] == ["other_ns_demo.json"]
    (tmp_path / "other_ns_demo.json").unlink()
    writer.write({("ns", "demo"): ["p2", "p1"]})
    groups = json.loads((tmp_path / "trafficsim_ns_demo.json").read_text())
    assert groups == target_groups("ns", "demo", ["p1", "p2"], "127.0.0.1:9999")
    assert groups[0]["targets"] == ["127.0.0.1:9999"]
    assert groups[0]["labels"] == {
        "__metrics_path__": "/metrics/ns/p1",
        "__meta_kubernetes_namespace": "ns",
        "__meta_kubernetes_pod_name": "p1",
        DEPLOYMENT_META_LABEL: "demo",
    }
    writer.write({("ns", "demo"): ["p2"]})
    assert [
        group["labels"]["__meta_kubernetes_pod_name"]
        for group in json.loads((tmp_path / "trafficsim_ns_demo.json").read_text())
    ] == ["p2"]
    writer.write({("ns", "demo"): []})
    assert list(tmp_path.iterdir()) == []
