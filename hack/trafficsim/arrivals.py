"""Arrival processes: when the next request comes, and what it carries.

Both processes are pure given their random generator: times are absolute on the simulator's clock,
computed from the start time handed in, never read from a wall clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from .traces import TraceRequest


@dataclass(frozen=True, slots=True)
class Arrival:
    """A request arriving at ``time``; its service and first-byte seconds when the source knows them."""

    time: float
    service_seconds: float | None = None
    first_byte_seconds: float | None = None


class ArrivalProcess(Protocol):
    """A source of arrivals in time order."""

    def peek(self) -> Arrival | None:
        """The next arrival without consuming it; None when no more will come."""
        ...

    def pop(self) -> Arrival:
        """Consume and return the next arrival (only after ``peek`` returned one)."""
        ...


class PoissonSchedule:
    """Poisson arrivals whose rate is piecewise constant: ``steps`` are (offset from start, rate).

    The last step lasts forever unless ``period`` is set, in which case the schedule repeats every
    ``period`` seconds. A constant rate is the one-step schedule ``[(0, rate)]``.
    """

    def __init__(
        self,
        steps: Sequence[tuple[float, float]],
        start: float,
        rng: random.Random,
        period: float | None = None,
    ) -> None:
        self._steps = [(float(offset), float(rate)) for offset, rate in steps]
        self._start = start
        self._rng = rng
        self._period = period
        self._cursor = start
        self._next: Arrival | None = self._draw()

    def peek(self) -> Arrival | None:
        """The next arrival, or None when the schedule's rate stays 0 for ever."""
        return self._next

    def pop(self) -> Arrival:
        """Consume the next arrival and draw the one after it."""
        arrival = self._next
        if arrival is None:
            raise IndexError("no more arrivals")
        self._cursor = arrival.time
        self._next = self._draw()
        return arrival

    def _draw(self) -> Arrival | None:
        # Exponential "work" of mean 1 spent at the schedule's rate: exact for a non-homogeneous Poisson
        # process with piecewise-constant intensity.
        work = self._rng.expovariate(1.0)
        if all(rate == 0 for _, rate in self._steps):
            return None
        for begin, end, rate in self._segments_from(self._cursor):
            if rate > 0 and (end - begin) * rate >= work:
                return Arrival(begin + work / rate)
            work -= (end - begin) * rate
        return None

    def _segments_from(self, time: float) -> Iterator[tuple[float, float, float]]:
        """(begin, end, rate) of the schedule's segments from ``time`` on; the first begins at ``time``."""
        cycle_start = self._start
        if self._period is not None:
            cycle_start += math.floor((time - self._start) / self._period) * self._period
        index = max(
            (position for position, (offset, _) in enumerate(self._steps) if cycle_start + offset <= time),
            default=0,
        )
        begin = time
        while True:
            rate = self._steps[index][1]
            if index + 1 < len(self._steps):
                end = cycle_start + self._steps[index + 1][0]
                index += 1
            elif self._period is not None:
                end = cycle_start + self._period
                cycle_start, index = end, 0
            else:
                if rate > 0:
                    yield begin, math.inf, rate
                return
            if end > begin:
                yield begin, end, rate
                begin = end


class TraceReplay:
    """Replays trace requests from ``start``, ``compress`` trace seconds per simulated second.

    With ``loop`` the trace starts over after its span (last arrival plus one mean gap).
    """

    def __init__(self, requests: Sequence[TraceRequest], start: float, compress: float, loop: bool) -> None:
        if not requests:
            raise ValueError("empty trace")
        self._requests = requests
        self._start = start
        self._compress = compress
        self._loop = loop
        last = requests[-1].arrival
        self._span = last + (last / (len(requests) - 1) if len(requests) > 1 else 1.0)
        self._index = 0
        self._round = 0

    def peek(self) -> Arrival | None:
        """The next request as an arrival, or None at the end of a trace that does not loop."""
        if self._index >= len(self._requests):
            return None
        request = self._requests[self._index]
        offset = request.arrival + self._round * self._span
        return Arrival(self._start + offset / self._compress, request.service, request.prefill or None)

    def pop(self) -> Arrival:
        """Consume the next request."""
        arrival = self.peek()
        if arrival is None:
            raise IndexError("no more arrivals")
        self._index += 1
        if self._index == len(self._requests) and self._loop:
            self._index = 0
            self._round += 1
        return arrival
