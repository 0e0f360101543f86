"""Helpers for the simulator's tests: views with a chosen load history, tiny traces, a reference queue."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from modelscaler.simulate.signals import MetricsView, ScrapeLog
from modelscaler.simulate.traces import Request


class LoadHistory:
    """A scrape log fed one constant concurrency per stretch; views on it at any time.

    `hold(value, seconds)` records `seconds` of scrapes (1 s apart) during which the
    system held `value` requests (in service + queued), `arrival_rate` arrivals per
    second and completions of mean `service` seconds.
    """

    def __init__(self) -> None:
        self.log = ScrapeLog(1.0)
        self.area = 0.0
        self.arrivals = 0.0
        self.completions = 0
        self.completed_service = 0.0
        self.in_service = 0

    @property
    def now(self) -> float:
        return float(len(self.log.area) - 1)

    def hold(
        self,
        value: float,
        seconds: int,
        arrival_rate: float = 0.0,
        service: float = 1.0,
        capacity: int | None = None,
    ) -> LoadHistory:
        """Appends `seconds` scrapes at this load; returns self for chaining."""
        in_service = int(value) if capacity is None else min(int(value), capacity)
        for _ in range(seconds):
            self.area += value
            self.arrivals += arrival_rate
            completed = round(arrival_rate)
            self.completions += completed
            self.completed_service += completed * service
            self.log.append(
                self.area,
                round(self.arrivals),
                self.completions,
                self.completed_service,
                in_service,
                max(0, int(value) - in_service),
            )
        return self

    def view(self, ready: int, starting: int = 0) -> MetricsView:
        """The signals at the latest scrape with these replica counts."""
        return MetricsView(self.log, self.now, ready, starting)


def fifo_waits(requests: Sequence[Request], servers: int) -> list[float]:
    """Waits in a FIFO queue in front of `servers` identical servers, all free at time 0 (a reference)."""
    free_at = [0.0] * servers
    heapq.heapify(free_at)
    waits = []
    for request in requests:
        free = heapq.heappop(free_at)
        start = max(request.arrival, free)
        waits.append(start - request.arrival)
        heapq.heappush(free_at, start + request.service)
    return waits


def requests_from(pairs: Sequence[tuple[float, float]]) -> list[Request]:
    """Requests from (arrival, service) pairs, sorted by arrival."""
    return sorted((Request(arrival, service) for arrival, service in pairs), key=lambda r: r.arrival)
