"""Read request traces into arrival records: offsets in seconds from the first request, with tokens.

Formats (see ``docs/trafficsim.md``):
- ``azure``: CSV with header ``TIMESTAMP,ContextTokens,GeneratedTokens`` (Azure LLM inference trace 2023);
- ``mooncake``: JSON lines with ``timestamp`` (ms), ``input_length``, ``output_length`` (Mooncake FAST'25);
- ``csv``: ``timestamp[,service_seconds]`` in seconds, with or without a header line.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import groupby
from pathlib import Path

MOONCAKE_TICK_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One request of a trace; absent fields are None and get the profile's defaults."""

    offset: float
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    service_seconds: float | None = None


class TraceFormatError(ValueError):
    """A trace file that does not parse in the stated format (the message names the line)."""


def load_trace(path: str, trace_format: str, spread_seconds: float | None = None) -> tuple[TraceRecord, ...]:
    """Read a trace file (``$VARS`` expanded) into records sorted by offset, the first at offset 0."""
    resolved = Path(os.path.expandvars(path)).expanduser()
    spread = spread_seconds if spread_seconds is not None else default_spread(trace_format)
    return _load_cached(str(resolved), trace_format, spread)


def default_spread(trace_format: str) -> float:
    """Seconds over which requests sharing a timestamp are spread when the profile does not say."""
    return MOONCAKE_TICK_SECONDS if trace_format == "mooncake" else 0.0


@lru_cache(maxsize=16)
def _load_cached(path: str, trace_format: str, spread: float) -> tuple[TraceRecord, ...]:
    with open(path, encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines()
    parsers = {"azure": parse_azure, "mooncake": parse_mooncake, "csv": parse_plain_csv}
    if trace_format not in parsers:
        raise TraceFormatError(f"unknown trace format {trace_format!r}")
    records = sorted(parsers[trace_format](lines), key=lambda record: record.offset)
    if not records:
        raise TraceFormatError(f"{path}: no requests")
    return tuple(spread_ties(rebase(records), spread))


def parse_azure(lines: Iterable[str]) -> Iterator[TraceRecord]:
    """Azure rows: ISO timestamp, context tokens, generated tokens (offsets not yet rebased)."""
    rows = csv.reader(lines)
    header = next(rows, None)
    if header is None or [name.strip() for name in header[:3]] != [
        "TIMESTAMP",
        "ContextTokens",
        "GeneratedTokens",
    ]:
        raise TraceFormatError(f"azure trace: unexpected header {header!r}")
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            stamp = datetime.fromisoformat(row[0].strip()).timestamp()
            yield TraceRecord(stamp, int(row[1]), int(row[2]))
        except (ValueError, IndexError) as error:
            raise TraceFormatError(f"azure trace line {number}: {error}") from error


def parse_mooncake(lines: Iterable[str]) -> Iterator[TraceRecord]:
    """Mooncake rows: JSON objects with a millisecond timestamp and input/output lengths."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            yield TraceRecord(
                float(row["timestamp"]) / 1000.0, int(row["input_length"]), int(row["output_length"])
            )
        except (ValueError, KeyError, TypeError) as error:
            raise TraceFormatError(f"mooncake trace line {number}: {error!r}") from error


def parse_plain_csv(lines: Iterable[str]) -> Iterator[TraceRecord]:
    """Plain rows: timestamp seconds and an optional service time; a non-numeric first line is a header."""
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or not row[0].strip():
            continue
        try:
            stamp = float(row[0])
        except ValueError as error:
            if number == 1:
                continue
            raise TraceFormatError(f"csv trace line {number}: {error}") from error
        try:
            service = float(row[1]) if len(row) > 1 and row[1].strip() else None
        except ValueError as error:
            raise TraceFormatError(f"csv trace line {number}: {error}") from error
        if service is not None and service <= 0:
            raise TraceFormatError(f"csv trace line {number}: service seconds must be > 0")
        yield TraceRecord(stamp, service_seconds=service)


def rebase(records: list[TraceRecord]) -> list[TraceRecord]:
    """Shift sorted records so the first request is at offset 0."""
    origin = records[0].offset
    return [
        TraceRecord(r.offset - origin, r.prompt_tokens, r.output_tokens, r.service_seconds) for r in records
    ]


def spread_ties(records: list[TraceRecord], spread: float) -> list[TraceRecord]:
    """Spread each group of records with the same offset evenly over ``spread`` seconds from that offset."""
    if spread <= 0:
        return records
    spread_out: list[TraceRecord] = []
    for offset, group in groupby(records, key=lambda record: record.offset):
        tied = list(group)
        gap = spread / len(tied)
        spread_out.extend(
            TraceRecord(offset + index * gap, r.prompt_tokens, r.output_tokens, r.service_seconds)
            for index, r in enumerate(tied)
        )
    return spread_out
