"""Trace files as arrivals, read by the what-if simulator's loaders (``modelscaler.simulate.traces``).

One reader for the whole project: the formats (Azure CSV, Mooncake JSONL, ServeGen rate profiles, plain
CSV ``timestamp[,service_seconds]``) and the token-based service-time model are those documented in
``docs/simulator.md``. This module only maps a profile onto the loader's options and caches the result.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from modelscaler.simulate.traces import LoadOptions, Request, ServiceTimeModel, TraceError
from modelscaler.simulate.traces import load_trace as read_trace_file

from .profile import ServiceSpec, TokenSpec, TraceSpec

TraceRequest = Request
"""One trace request: arrival (seconds from the first), service seconds, prefill (to the first token)."""

__all__ = ["TraceError", "TraceRequest", "load_trace", "token_service_model"]


def token_service_model(service: ServiceSpec, tokens: TokenSpec) -> ServiceTimeModel:
    """service = base + per_prompt_token x prompt + per_output_token x output (tokens: the trace's, or
    the profile's defaults where the trace has none)."""
    return ServiceTimeModel(
        base=service.base,
        prefill_per_token=service.per_prompt_token,
        decode_per_token=service.per_output_token,
        default_input_tokens=tokens.prompt,
        default_output_tokens=tokens.output,
    )


def load_trace(
    trace: TraceSpec, service: ServiceSpec, tokens: TokenSpec, seed: int
) -> Sequence[TraceRequest]:
    """The trace's requests, uncompressed and sorted (first at 0); ``$VARS`` in the path are expanded."""
    path = Path(os.path.expandvars(trace.path)).expanduser()
    return _load_cached(str(path), trace.format, token_service_model(service, tokens), seed)


@lru_cache(maxsize=16)
def _load_cached(
    path: str, trace_format: str | None, model: ServiceTimeModel, seed: int
) -> tuple[TraceRequest, ...]:
    options = LoadOptions(fmt=trace_format, service=model, compress=1.0, seed=seed)
    return tuple(read_trace_file(Path(path), options))
