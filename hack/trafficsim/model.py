"""The queueing model of one deployment: arrivals, Ready pods with a capacity, queues, refusals.

A discrete-event simulation advanced to a given ``now`` (the caller's clock): every arrival, completion
and timeout up to ``now`` is processed at its exact time, so the figures do not depend on how often the
caller ticks. No I/O, no wall clock: the real-time loop and the unit tests drive it the same way.

Sync mode: an arriving request goes to the least-loaded Ready pod (in service + waiting there; ties go to
the pod assigned least recently), starts if the pod has a free slot, waits in that pod's queue otherwise,
and is refused with 503 when that queue holds ``queue_limit``. With no Ready pod it waits up to
``timeout`` in the deployment's pending queue, then is refused (no pod exists to count that 503).
Async mode: requests wait in one deployment-wide async queue, never refused; pods pull from it.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .arrivals import Arrival, ArrivalProcess, PoissonSchedule, TraceReplay
from .profile import ServiceSpec, TokenSpec, TraceSpec, TrafficProfile
from .traces import TraceRequest, token_service_model

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    30.0,
    60.0,
    120.0,
    300.0,
)
SIZE_BUCKETS: tuple[float, ...] = (256, 1024, 4096, 16384, 65536, 262144, 1048576)
BYTES_PER_TOKEN = 4
ENVELOPE_BYTES = 200

TraceLoader = Callable[[TraceSpec, ServiceSpec, TokenSpec, int], Sequence[TraceRequest]]
"""Reads a profile's trace: (trace, service, tokens, seed) -> requests (``traces.load_trace``)."""


class Histogram:
    """A Prometheus-style histogram: per-bucket counts (upper bounds ``bounds``, plus +Inf), sum, count."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.bucket_counts = [0] * len(self.bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation in the first bucket whose bound is >= value."""
        index = bisect_left(self.bounds, value)
        if index < len(self.bounds):
            self.bucket_counts[index] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[int]:
        """Cumulative counts per bound (the ``le`` buckets), without +Inf (that is ``count``)."""
        running, cumulative = 0, []
        for bucket in self.bucket_counts:
            running += bucket
            cumulative.append(running)
        return cumulative

    def copy(self) -> Histogram:
        """An independent copy (for a snapshot read outside the lock)."""
        clone = Histogram(self.bounds)
        clone.bucket_counts = list(self.bucket_counts)
        clone.sum, clone.count = self.sum, self.count
        return clone


@dataclass
class PodCounters:
    """What a pod has served over its lifetime: the cumulative series it exports."""

    duration: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    queue_time: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    service_time: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    first_byte: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    request_size: Histogram = field(default_factory=lambda: Histogram(SIZE_BUCKETS))
    response_size: Histogram = field(default_factory=lambda: Histogram(SIZE_BUCKETS))
    responses: dict[str, int] = field(default_factory=lambda: {"200": 0, "503": 0})
    prompt_tokens: int = 0
    output_tokens: int = 0

    def copy(self) -> PodCounters:
        """An independent copy."""
        return PodCounters(
            self.duration.copy(),
            self.queue_time.copy(),
            self.service_time.copy(),
            self.first_byte.copy(),
            self.request_size.copy(),
            self.response_size.copy(),
            dict(self.responses),
            self.prompt_tokens,
            self.output_tokens,
        )


@dataclass(eq=False)
class Request:
    """One request through the model; times are on the simulator's clock."""

    arrival: float
    service_seconds: float
    first_byte_seconds: float
    prompt_tokens: int
    output_tokens: int
    deadline: float
    pod: str = ""
    start: float = math.nan
    end: float = math.nan
    first_byte_at: float = math.nan
    dropped: bool = False


@dataclass(eq=False)
class PodState:
    """A pod known to the model: Ready pods take new requests, unready ones finish what they hold."""

    name: str
    uid: str
    ready: bool
    running: list[Request] = field(default_factory=list)
    waiting: deque[Request] = field(default_factory=deque)
    counters: PodCounters = field(default_factory=PodCounters)
    last_assigned: int = -1

    @property
    def load(self) -> int:
        """Requests at this pod: in service plus waiting."""
        return len(self.running) + len(self.waiting)


@dataclass(frozen=True)
class PodSnapshot:
    """Everything needed to write one pod's metrics, copied out of the model."""

    engine: str
    model_name: str
    running: int
    waiting: int
    async_mode: bool
    async_queue: int
    kv_cache_usage: float
    counters: PodCounters


@dataclass
class DeploymentTotals:
    """Deployment-wide counts since the model was created (live figures for ``GET /traffic``)."""

    arrivals: int = 0
    served: int = 0
    refused: int = 0
    timed_out: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class PodPresence:
    """A pod as the cluster reports it: identity and readiness."""

    uid: str
    ready: bool


class DeploymentModel:
    """Queueing model of one deployment's pods under its traffic profile."""

    def __init__(
        self,
        name: str,
        profile: TrafficProfile,
        now: float,
        trace_loader: TraceLoader,
    ) -> None:
        self.name = name
        self.clock = now
        self.pods: dict[str, PodState] = {}
        self.pending: deque[Request] = deque()
        self.async_queue: deque[Request] = deque()
        self.totals = DeploymentTotals()
        self._completions: list[tuple[float, int, Request]] = []
        self._sequence = 0
        self._trace_loader = trace_loader
        self.profile = profile
        self._rng = random.Random(profile.seed)
        self._arrivals = self._arrival_process(profile, now, self._rng)

    # ----- inputs -----------------------------------------------------------------------------------------

    def set_profile(self, profile: TrafficProfile, now: float) -> None:
        """Replace the profile at ``now``: arrivals restart from ``now``, requests in the model carry on."""
        rng = random.Random(profile.seed)
        arrivals = self._arrival_process(
            profile, now, rng
        )  # first: a trace that fails to load changes nothing
        self.advance(now)
        mode_changed = profile.async_mode != self.profile.async_mode
        self.profile, self._rng, self._arrivals = profile, rng, arrivals
        if mode_changed:
            self._redispatch(self._take_all_waiting(), now)
        for pod in self.pods.values():
            self._fill(pod, now)

    def set_pods(self, pods: Mapping[str, PodPresence], now: float) -> None:
        """Make the model's pods those of ``pods`` at ``now``.

        A pod that is gone (or came back with a new uid) loses what it was serving (counted as dropped);
        what waited there is dispatched again. A pod turning unready takes no new requests but finishes
        its own. Requests pending for want of a Ready pod go to the pods that became Ready.
        """
        self.advance(now)
        orphans: list[Request] = []
        for name, pod in list(self.pods.items()):
            presence = pods.get(name)
            if presence is None or presence.uid != pod.uid:
                for request in pod.running:
                    request.dropped = True
                self.totals.dropped += len(pod.running)
                orphans.extend(pod.waiting)
                del self.pods[name]
        for name, presence in pods.items():
            pod = self.pods.setdefault(name, PodState(name, presence.uid, presence.ready))
            pod.ready = presence.ready
        waiting = sorted([*orphans, *self.pending], key=lambda request: request.arrival)
        self.pending.clear()
        self._redispatch(waiting, now)
        for pod in self.pods.values():
            self._fill(pod, now)

    def advance(self, now: float) -> None:
        """Process every completion, timeout and arrival up to ``now``, in time order."""
        while True:
            self._discard_dropped()
            next_completion = self._completions[0][0] if self._completions else math.inf
            next_timeout = self.pending[0].deadline if self.pending else math.inf
            upcoming = self._arrivals.peek()
            next_arrival = upcoming.time if upcoming is not None else math.inf
            moment = min(next_completion, next_timeout, next_arrival)
            if moment > now:
                break
            if moment == next_completion:
                self._complete(heapq.heappop(self._completions)[2])
            elif moment == next_timeout:
                self.pending.popleft()
                self.totals.timed_out += 1
            else:
                self._arrive(self._arrivals.pop())
        self.clock = max(self.clock, now)

    # ----- outputs ----------------------------------------------------------------------------------------

    def snapshot(self, pod_name: str) -> PodSnapshot | None:
        """A copy of one pod's exported state, or None for a pod the model does not know."""
        pod = self.pods.get(pod_name)
        if pod is None:
            return None
        async_share = self._async_shares().get(pod_name, 0)
        running, waiting = len(pod.running), len(pod.waiting)
        if self.profile.async_mode:
            waiting = 0
        tokens_held = sum(request.prompt_tokens + request.output_tokens for request in pod.running)
        return PodSnapshot(
            engine=self.profile.engine,
            model_name=self.profile.model_name or self.name,
            running=running,
            waiting=waiting,
            async_mode=self.profile.async_mode,
            async_queue=async_share,
            kv_cache_usage=min(1.0, tokens_held / self._kv_cache_tokens()),
            counters=pod.counters.copy(),
        )

    def figures(self) -> dict[str, object]:
        """Live figures: totals, requests in service and waiting, pods."""
        return {
            "arrivals": self.totals.arrivals,
            "served": self.totals.served,
            "refused": self.totals.refused,
            "timed_out": self.totals.timed_out,
            "dropped": self.totals.dropped,
            "in_service": sum(len(pod.running) for pod in self.pods.values()),
            "waiting": sum(len(pod.waiting) for pod in self.pods.values()) + len(self.pending),
            "async_queue": len(self.async_queue),
            "ready_pods": sorted(name for name, pod in self.pods.items() if pod.ready),
            "pods": len(self.pods),
        }

    def ready_pods(self) -> list[str]:
        """Names of the Ready pods, sorted."""
        return sorted(name for name, pod in self.pods.items() if pod.ready)

    # ----- mechanics --------------------------------------------------------------------------------------

    def _arrival_process(self, profile: TrafficProfile, now: float, rng: random.Random) -> ArrivalProcess:
        if profile.trace is not None:
            spec = profile.trace
            requests = self._trace_loader(spec, profile.service, profile.tokens, profile.seed or 0)
            return TraceReplay(requests, now, spec.compress, spec.loop)
        return PoissonSchedule(profile.step_schedule(), now, rng, profile.period)

    def _kv_cache_tokens(self) -> int:
        tokens = self.profile.tokens
        return self.profile.kv_cache_tokens or max(1, self.profile.capacity * (tokens.prompt + tokens.output))

    def _new_request(self, arrival: Arrival) -> Request:
        profile, service = self.profile, self.profile.service
        prompt, output = profile.tokens.prompt, profile.tokens.output
        kind = service.kind
        if kind == "auto":
            kind = "tokens" if arrival.service_seconds is not None else "constant"
        if kind == "tokens" and arrival.service_seconds is not None:
            seconds = arrival.service_seconds
            first_byte = arrival.first_byte_seconds
            if first_byte is None:
                first_byte = seconds * service.first_byte_fraction
        elif kind == "tokens":
            model = token_service_model(service, profile.tokens)
            seconds, first_byte = model.seconds(prompt, output), model.prefill_seconds(prompt)
        else:
            seconds = service.seconds if kind == "constant" else self._rng.expovariate(1.0 / service.seconds)
            first_byte = seconds * service.first_byte_fraction
        return Request(arrival.time, seconds, first_byte, prompt, output, arrival.time + profile.timeout)

    def _arrive(self, arrival: Arrival) -> None:
        self.totals.arrivals += 1
        self._dispatch(self._new_request(arrival), arrival.time)

    def _dispatch(self, request: Request, now: float) -> None:
        ready = [pod for pod in self.pods.values() if pod.ready]
        if self.profile.async_mode:
            self.async_queue.append(request)
            free = [pod for pod in ready if len(pod.running) < self.profile.capacity]
            if free:
                self._fill(self._least_loaded(free), now)
            return
        if not ready:
            if request.deadline > now:
                self.pending.append(request)
            else:
                self.totals.timed_out += 1
            return
        pod = self._least_loaded(ready)
        if len(pod.running) < self.profile.capacity:
            self._start(pod, request, now)
        elif len(pod.waiting) < self.profile.queue_limit:
            pod.waiting.append(request)
        else:
            pod.counters.responses["503"] += 1
            self.totals.refused += 1

    def _least_loaded(self, pods: Iterable[PodState]) -> PodState:
        pod = min(pods, key=lambda candidate: (candidate.load, candidate.last_assigned))
        self._sequence += 1
        pod.last_assigned = self._sequence
        return pod

    def _start(self, pod: PodState, request: Request, now: float) -> None:
        pod.running.append(request)
        degrade = self.profile.degrade
        factor = degrade.factor if degrade is not None and pod.load > degrade.above else 1.0
        request.pod = pod.name
        request.start = now
        request.end = now + request.service_seconds * factor
        request.first_byte_at = now + request.first_byte_seconds * factor
        self._sequence += 1
        heapq.heappush(self._completions, (request.end, self._sequence, request))

    def _complete(self, request: Request) -> None:
        pod = self.pods[request.pod]
        pod.running.remove(request)
        counters = pod.counters
        counters.duration.observe(request.end - request.arrival)
        counters.queue_time.observe(request.start - request.arrival)
        counters.service_time.observe(request.end - request.start)
        counters.first_byte.observe(request.first_byte_at - request.arrival)
        counters.request_size.observe(ENVELOPE_BYTES + BYTES_PER_TOKEN * request.prompt_tokens)
        counters.response_size.observe(ENVELOPE_BYTES + BYTES_PER_TOKEN * request.output_tokens)
        counters.responses["200"] += 1
        counters.prompt_tokens += request.prompt_tokens
        counters.output_tokens += request.output_tokens
        self.totals.served += 1
        self._fill(pod, request.end)

    def _fill(self, pod: PodState, now: float) -> None:
        """Start waiting requests on the pod's free slots (its own queue, then the async queue if Ready)."""
        while len(pod.running) < self.profile.capacity:
            if pod.waiting:
                self._start(pod, pod.waiting.popleft(), now)
            elif self.async_queue and pod.ready:
                self._start(pod, self.async_queue.popleft(), now)
            else:
                return

    def _discard_dropped(self) -> None:
        while self._completions and self._completions[0][2].dropped:
            heapq.heappop(self._completions)

    def _take_all_waiting(self) -> list[Request]:
        waiting = [*self.pending, *self.async_queue]
        self.pending.clear()
        self.async_queue.clear()
        for pod in self.pods.values():
            waiting.extend(pod.waiting)
            pod.waiting.clear()
        return sorted(waiting, key=lambda request: request.arrival)

    def _redispatch(self, requests: Iterable[Request], now: float) -> None:
        for request in requests:
            self._dispatch(request, now)

    def _async_shares(self) -> dict[str, int]:
        """The async queue split over the Ready pods so that their sum is the queue's length."""
        ready = self.ready_pods()
        if not ready:
            return {}
        whole, extra = divmod(len(self.async_queue), len(ready))
        return {name: whole + (1 if index < extra else 0) for index, name in enumerate(ready)}
