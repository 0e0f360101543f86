"""What a policy sees: windowed signals computed from the replay's scrapes, as the real loop sees them.

The replay records, at every scrape (every `scrape_interval` seconds), running
totals: the integral of requests in the system (in service + queued), the
arrival count, the count and summed service time of completed requests, and the
instant counts. A window's value is a difference of two totals divided by its
length, exactly what Prometheus' `rate(x_sum[w])` or `avg_over_time` would give
at scrape resolution. Policies only see scrapes at or before `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The mean service time behind arrival-driven concurrency is averaged over this
# long a window (at least the asked window): one minute of completions is noisy.
SERVICE_MEAN_WINDOW = 300.0


@dataclass(slots=True)
class ScrapeLog:
    """Running totals per scrape; index j is the state at time j x interval."""

    interval: float
    area: list[float] = field(default_factory=lambda: [0.0])  # integral of requests in the system
    arrivals: list[int] = field(default_factory=lambda: [0])
    completions: list[int] = field(default_factory=lambda: [0])
    completed_service: list[float] = field(default_factory=lambda: [0.0])
    in_service: list[int] = field(default_factory=lambda: [0])
    queued: list[int] = field(default_factory=lambda: [0])

    def append(
        self,
        area: float,
        arrivals: int,
        completions: int,
        completed_service: float,
        in_service: int,
        queued: int,
    ) -> None:
        """Records one scrape's totals."""
        self.area.append(area)
        self.arrivals.append(arrivals)
        self.completions.append(completions)
        self.completed_service.append(completed_service)
        self.in_service.append(in_service)
        self.queued.append(queued)


@dataclass(slots=True)
class MetricsView:
    """Signals at `now`, plus the replica counts the Kubernetes API would report.

    Every windowed signal returns None when no scrape lies inside the window yet
    (unknown, never zero). `at` reads the signals as of an earlier time (a policy
    whose metrics are reported periodically, like Ray Serve's).
    """

    log: ScrapeLog
    now: float
    ready: int
    starting: int

    @property
    def current(self) -> int:
        """The replica count the deployment asks for (ready + starting)."""
        return self.ready + self.starting

    def _index(self, at: float | None) -> int:
        time = self.now if at is None else min(at, self.now)
        return min(int(time / self.log.interval + 1e-9), len(self.log.area) - 1)

    def _span(self, window: float, at: float | None) -> tuple[int, int] | None:
        end = self._index(at)
        start = max(0, end - max(1, round(window / self.log.interval)))
        return (start, end) if end > start else None

    def concurrency(self, window: float, at: float | None = None) -> float | None:
        """Time-averaged requests in the system (in service + queued) over the window."""
        span = self._span(window, at)
        if span is None:
            return None
        start, end = span
        return (self.log.area[end] - self.log.area[start]) / ((end - start) * self.log.interval)

    def request_rate(self, window: float, at: float | None = None) -> float | None:
        """Arrivals per second over the window."""
        span = self._span(window, at)
        if span is None:
            return None
        start, end = span
        return (self.log.arrivals[end] - self.log.arrivals[start]) / ((end - start) * self.log.interval)

    def mean_service(self, window: float, at: float | None = None) -> float | None:
        """Mean service seconds of the requests completed over the window (None when none did)."""
        span = self._span(window, at)
        if span is None:
            return None
        start, end = span
        count = self.log.completions[end] - self.log.completions[start]
        if count == 0:
            return None
        return (self.log.completed_service[end] - self.log.completed_service[start]) / count

    def arrival_concurrency(self, window: float, at: float | None = None) -> float | None:
        """Arrival rate over the window x mean service time: the concurrency the arrivals need.

        The service mean is averaged over at least SERVICE_MEAN_WINDOW; before
        anything completed, the signal is unknown.
        """
        rate = self.request_rate(window, at)
        service = self.mean_service(max(window, SERVICE_MEAN_WINDOW), at)
        if rate is None or service is None:
            return None
        return rate * service

    def in_service(self, at: float | None = None) -> int:
        """Requests being served (not queued) at the last scrape."""
        return self.log.in_service[self._index(at)]

    def queued(self, at: float | None = None) -> int:
        """Requests waiting for a free slot at the last scrape."""
        return self.log.queued[self._index(at)]
