"""Request traces: read the public trace formats into (arrival, service seconds) requests.

Supported formats (see docs/simulator.md):

- ``azure``: the Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens).
- ``mooncake``: Mooncake JSONL (timestamp in ms, input_length, output_length). Its
  timestamps sit on 3-s ticks; each tick's requests are spread uniformly (seeded)
  across the tick so that a replay does not see a burst every 3 s.
- ``servegen``: ServeGen rate profiles (a tar.gz of per-client CSVs, or one CSV):
  per 600-s window a rate, a CV and a fitted inter-arrival distribution (Gamma or
  Weibull); arrivals are generated from them.
- ``csv``: a plain CSV ``timestamp[,service_seconds]`` (seconds; header optional).

Traces carry tokens, not latencies: a `ServiceTimeModel` turns tokens into
service seconds. Formats without tokens (ServeGen, a CSV without a service
column) draw tokens from the model's defaults.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

FORMATS = ("azure", "mooncake", "servegen", "csv")
MOONCAKE_TICK_SECONDS = 3.0
SERVEGEN_WINDOW_SECONDS = 600.0


class TraceError(ValueError):
    """A trace file that cannot be read, with the file and line that failed."""


@dataclass(frozen=True, slots=True)
class Request:
    """One request of a replay: when it arrives, how long one replica needs to serve it, and its prefill.

    prefill: seconds from the start of service to the first token (0 when unknown),
    so that time to first token = wait + prefill.
    """

    arrival: float
    service: float
    prefill: float = 0.0


@dataclass(frozen=True, slots=True)
class ServiceTimeModel:
    """Service seconds of one request from its token counts.

    service = base + prefill_per_token x input tokens + decode_per_token x output tokens.
    The defaults (0.1 s, 0.1 ms/token prefill = 10k tokens/s, 10 ms/token decode =
    100 tokens/s per stream) are those of a 7-13B model on one modern GPU, and give
    2.3 s on average on the Azure conversation trace and 4.7 s on Mooncake's.
    Load does not slow a replica down: up to K requests run at once at full speed.
    For traces without tokens, requests get `default_input_tokens` and an output
    length drawn from an exponential distribution of mean `default_output_tokens`.
    """

    base: float = 0.1
    prefill_per_token: float = 0.0001
    decode_per_token: float = 0.01
    default_input_tokens: int = 1000
    default_output_tokens: int = 250

    def seconds(self, input_tokens: int, output_tokens: int) -> float:
        """Service seconds of a request with these token counts."""
        return self.base + self.prefill_per_token * input_tokens + self.decode_per_token * output_tokens

    def prefill_seconds(self, input_tokens: int) -> float:
        """Seconds to the first token once served: base + prefill_per_token x input tokens."""
        return self.base + self.prefill_per_token * input_tokens

    def request(self, arrival: float, input_tokens: int, output_tokens: int) -> Request:
        """A request with these token counts arriving at `arrival`."""
        return Request(arrival, self.seconds(input_tokens, output_tokens), self.prefill_seconds(input_tokens))

    def draw(self, arrival: float, rng: random.Random) -> Request:
        """A request whose tokens the trace does not give: default input, exponential output."""
        output_tokens = round(rng.expovariate(1.0 / self.default_output_tokens))
        return self.request(arrival, self.default_input_tokens, output_tokens)

    def describe(self) -> str:
        """The model in one line, for reports."""
        return (
            f"service = {self.base:g} s + {self.prefill_per_token * 1000:g} ms x input tokens"
            f" + {self.decode_per_token * 1000:g} ms x output tokens"
        )


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How to read a trace: format, service-time model, compression, seed, ServeGen selection.

    compress: arrival times are divided by it (2 = twice the rate in half the time).
    servegen_client: a client file ("language/m-large/chunk-1") or a group prefix
    ("reason/deepseek-r1", all its clients summed); servegen_start / _duration
    select the span (None start = the busiest hour of the selection).
    """

    fmt: str | None = None
    service: ServiceTimeModel = ServiceTimeModel()
    compress: float = 1.0
    seed: int = 0
    servegen_client: str = "reason/deepseek-r1"
    servegen_start: float | None = None
    servegen_duration: float = 3600.0


def detect_format(path: Path) -> str:
    """The trace format from the file name: .jsonl mooncake, .tar.gz servegen, azure CSV by header."""
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return "mooncake"
    if name.endswith((".tar.gz", ".tgz")):
        return "servegen"
    if name.endswith(".csv"):
        with path.open(newline="") as handle:
            header = handle.readline()
        if "ContextTokens" in header and "GeneratedTokens" in header:
            return "azure"
        if _looks_like_servegen_row(header):
            return "servegen"
        return "csv"
    raise TraceError(
        f"{path}: cannot tell the trace format from the name; pass --format ({', '.join(FORMATS)})"
    )


def load_trace(path: Path, options: LoadOptions) -> list[Request]:
    """Reads a trace into requests sorted by arrival, starting at time 0."""
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    if options.compress <= 0:
        raise TraceError(f"compression must be positive, got {options.compress}")
    fmt = options.fmt or detect_format(path)
    rng = random.Random(options.seed)
    if fmt == "azure":
        requests = list(_read_azure(path, options.service))
    elif fmt == "mooncake":
        requests = list(_read_mooncake(path, options.service, rng))
    elif fmt == "servegen":
        requests = _read_servegen(path, options, rng)
    elif fmt == "csv":
        requests = list(_read_plain_csv(path, options.service, rng))
    else:
        raise TraceError(f"unknown trace format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not requests:
        raise TraceError(f"{path}: the trace holds no requests")
    requests.sort(key=lambda request: request.arrival)
    origin = requests[0].arrival
    return [Request((r.arrival - origin) / options.compress, r.service, r.prefill) for r in requests]


def _read_azure(path: Path, service: ServiceTimeModel) -> Iterator[Request]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"} - set(reader.fieldnames or ())
        if missing:
            raise TraceError(f"{path}: not an Azure trace, missing columns {sorted(missing)}")
        origin: datetime | None = None
        for line, row in enumerate(reader, start=2):
            try:
                stamp = datetime.fromisoformat(_trim_fraction(row["TIMESTAMP"]))
                tokens_in, tokens_out = int(row["ContextTokens"]), int(row["GeneratedTokens"])
            except (ValueError, TypeError) as error:
                raise TraceError(f"{path}:{line}: {error}") from error
            origin = origin or stamp
            yield service.request((stamp - origin).total_seconds(), tokens_in, tokens_out)


def _trim_fraction(stamp: str) -> str:
    """Azure stamps carry 7 fractional digits; datetime reads at most 6."""
    head, dot, fraction = stamp.strip().partition(".")
    return f"{head}.{fraction[:6]}" if dot else head


def _read_mooncake(path: Path, service: ServiceTimeModel, rng: random.Random) -> list[Request]:
    """Mooncake records; when every timestamp sits on a 3-s tick, each tick's requests are spread over it."""
    stamps_ms: list[int] = []
    tokens: list[tuple[int, int]] = []
    with path.open() as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                stamps_ms.append(int(record["timestamp"]))
                tokens.append((int(record["input_length"]), int(record["output_length"])))
            except (ValueError, KeyError, TypeError) as error:
                raise TraceError(f"{path}:{line}: not a Mooncake record ({error})") from error
    tick_ms = int(MOONCAKE_TICK_SECONDS * 1000)
    on_ticks = all(stamp % tick_ms == 0 for stamp in stamps_ms)
    spread = MOONCAKE_TICK_SECONDS if on_ticks else 0.0
    return [
        service.request(stamp / 1000.0 + (rng.uniform(0.0, spread) if spread else 0.0), tokens_in, tokens_out)
        for stamp, (tokens_in, tokens_out) in zip(stamps_ms, tokens, strict=True)
    ]


def _read_plain_csv(path: Path, service: ServiceTimeModel, rng: random.Random) -> Iterator[Request]:
    with path.open(newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            try:
                arrival = float(row[0])
            except ValueError as error:
                if line == 1:
                    continue  # a header row
                raise TraceError(f"{path}:{line}: timestamp {row[0]!r} is not a number") from error
            if len(row) < 2 or not row[1].strip():
                yield service.draw(arrival, rng)
                continue
            try:
                seconds = float(row[1])
            except ValueError as error:
                raise TraceError(f"{path}:{line}: service_seconds {row[1]!r} is not a number") from error
            if seconds <= 0 or not math.isfinite(seconds):
                raise TraceError(f"{path}:{line}: service_seconds must be positive, got {seconds}")
            yield Request(arrival, seconds)


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One ServeGen window: its start, request rate (per second) and inter-arrival shape."""

    start: float
    rate: float
    distribution: str  # "Gamma" | "Weibull" | "" (unknown: exponential)
    shape: float
    scale: float


def _looks_like_servegen_row(text: str) -> bool:
    fields = text.strip().split(",")
    if len(fields) != 6:
        return False
    try:
        float(fields[0])
        float(fields[1])
    except ValueError:
        return False
    return fields[3] in {"", "Gamma", "Weibull"}


def parse_servegen_rows(rows: Iterable[list[str]], source: str) -> list[RateWindow]:
    """Parses ServeGen rows `start, rate, cv, distribution, shape, scale` into windows."""
    windows: list[RateWindow] = []
    for line, row in enumerate(rows, start=1):
        if not row:
            continue
        if len(row) != 6:
            raise TraceError(f"{source}:{line}: expected 6 ServeGen columns, got {len(row)}")
        try:
            start, rate = float(row[0]), float(row[1])
            shape = float(row[4]) if row[4] else 0.0
            scale = float(row[5]) if row[5] else 0.0
        except ValueError as error:
            raise TraceError(f"{source}:{line}: {error}") from error
        windows.append(RateWindow(start, rate, row[3], shape, scale))
    return windows


def servegen_arrivals(windows: list[RateWindow], start: float, end: float, rng: random.Random) -> list[float]:
    """Arrival times in [start, end) from rate windows (a renewal process per window).

    Inter-arrival gaps follow the window's fitted distribution, rescaled so that
    their mean is exactly 1/rate: the rate is the measured quantity, the shape
    (burstiness) comes from the fit.
    """
    arrivals: list[float] = []
    for window in windows:
        lo, hi = max(window.start, start), min(window.start + SERVEGEN_WINDOW_SECONDS, end)
        if window.rate <= 0 or lo >= hi:
            continue
        draw = _gap_sampler(window, rng)
        clock = lo + draw()
        while clock < hi:
            arrivals.append(clock)
            clock += draw()
    return arrivals


def _gap_sampler(window: RateWindow, rng: random.Random) -> Callable[[], float]:
    """A function drawing one inter-arrival gap of the window, rescaled to its rate."""
    mean_gap = 1.0 / window.rate
    shape, scale = window.shape, window.scale
    if window.distribution == "Gamma" and shape > 0 and scale > 0:
        gamma_factor = mean_gap / (shape * scale)
        return lambda: rng.gammavariate(shape, scale) * gamma_factor
    if window.distribution == "Weibull" and shape > 0 and scale > 0:
        weibull_factor = mean_gap / (scale * math.gamma(1.0 + 1.0 / shape))
        return lambda: rng.weibullvariate(scale, shape) * weibull_factor
    return lambda: rng.expovariate(window.rate)


def read_servegen_profiles(path: Path, selection: str) -> dict[str, list[RateWindow]]:
    """The rate windows of each ServeGen client matching `selection`, keyed by client name.

    `path` is the tar.gz of per-client CSVs or a single client CSV. `selection`
    names one client ("language/m-large/chunk-1") or a group ("language/m-large").
    """
    if path.name.lower().endswith(".csv"):
        with path.open(newline="") as handle:
            return {path.stem: parse_servegen_rows(csv.reader(handle), str(path))}
    wanted = selection.strip("/").removeprefix("data/").removesuffix("-trace.csv")
    profiles: dict[str, list[RateWindow]] = {}
    names: set[str] = set()
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith("-trace.csv"):
                continue
            client = member.name.removeprefix("data/").removesuffix("-trace.csv")
            names.add(client.rsplit("/", 1)[0])
            if client != wanted and not client.startswith(wanted + "/"):
                continue
            extracted = archive.extractfile(member)
            if extracted is None:
                continue
            text = io.TextIOWrapper(extracted, encoding="utf-8", newline="")
            profiles[client] = parse_servegen_rows(csv.reader(text), f"{path}:{member.name}")
    if not profiles:
        raise TraceError(
            f"{path}: no ServeGen client matches --servegen-client {selection!r}; "
            f"groups: {', '.join(sorted(names))} (or one client, e.g. {sorted(names)[0]}/chunk-1)"
            if names
            else f"{path}: no ServeGen *-trace.csv inside"
        )
    return profiles


def busiest_hour_start(profiles: dict[str, list[RateWindow]]) -> float:
    """The window start of the hour with the most requests over all selected clients."""
    totals: dict[float, float] = {}
    for windows in profiles.values():
        for window in windows:
            totals[window.start] = totals.get(window.start, 0.0) + window.rate
    starts = sorted(totals)
    per_hour = int(3600 / SERVEGEN_WINDOW_SECONDS)
    best_start, best_load = starts[0], -1.0
    for index, start in enumerate(starts):
        load = sum(totals[s] for s in starts[index : index + per_hour])
        if load > best_load:
            best_start, best_load = start, load
    return best_start


def _read_servegen(path: Path, options: LoadOptions, rng: random.Random) -> list[Request]:
    profiles = read_servegen_profiles(path, options.servegen_client)
    start = options.servegen_start if options.servegen_start is not None else busiest_hour_start(profiles)
    end = start + options.servegen_duration
    requests: list[Request] = []
    for client in sorted(profiles):
        for arrival in servegen_arrivals(profiles[client], start, end, rng):
            requests.append(options.service.draw(arrival, rng))
    return requests
