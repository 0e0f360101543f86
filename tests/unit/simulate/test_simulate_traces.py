"""Trace loaders on small inline samples, and on the real trace files when they are present."""

from __future__ import annotations

import io
import itertools
import math
import random
import statistics
import tarfile
from pathlib import Path

import pytest

from modelscaler.simulate.traces import (
    LoadOptions,
    RateWindow,
    ServiceTimeModel,
    TraceError,
    busiest_hour_start,
    detect_format,
    load_trace,
    parse_servegen_rows,
    read_servegen_profiles,
    servegen_arrivals,
)

MODEL = ServiceTimeModel(base=0.5, prefill_per_token=0.001, decode_per_token=0.01)
# The shared traces sit beside the repository (../shared/traces); a developer may point elsewhere.
SHARED_TRACES = Path(__file__).resolve().parents[3].parent / "shared" / "traces"


def test_azure_rows_become_requests_from_the_first_timestamp(tmp_path: Path) -> None:
    trace = tmp_path / "azure.csv"
    trace.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,1000,100\n"
        "2023-11-16 18:15:48.1805900,2000,10\n"
    )
    requests = load_trace(trace, LoadOptions(service=MODEL))
    assert [r.arrival for r in requests] == [0.0, 1.5]
    assert requests[0].service == pytest.approx(0.5 + 1.0 + 1.0)
    assert requests[0].prefill == pytest.approx(1.5)
    assert requests[1].service == pytest.approx(0.5 + 2.0 + 0.1)


def test_mooncake_ticks_are_spread_over_their_three_seconds_with_the_seed(tmp_path: Path) -> None:
    trace = tmp_path / "mooncake.jsonl"
    lines = [
        f'{{"timestamp": {3000 * (i // 50)}, "input_length": 100, "output_length": 10}}' for i in range(200)
    ]
    trace.write_text("\n".join(lines) + "\n")
    requests = load_trace(trace, LoadOptions(service=MODEL, seed=7))
    assert len(requests) == 200
    arrivals = [r.arrival for r in requests]
    for tick in range(4):
        inside = arrivals[50 * tick : 50 * tick + 50]  # each tick's requests stay within its 3 s...
        assert 2.0 < max(inside) - min(inside) < 3.0  # ...spread over them, not stacked on the tick
        assert 3 * tick - 0.5 < statistics.mean(inside) - arrivals[0] < 3 * tick + 3
    again = load_trace(trace, LoadOptions(service=MODEL, seed=7))
    assert [r.arrival for r in again] == [r.arrival for r in requests]


def test_mooncake_timestamps_off_the_ticks_are_kept(tmp_path: Path) -> None:
    trace = tmp_path / "synthetic.jsonl"
    trace.write_text(
        '{"timestamp": 0, "input_length": 1, "output_length": 1}\n'
        '{"timestamp": 1234, "input_length": 1, "output_length": 1}\n'
    )
    assert [r.arrival for r in load_trace(trace, LoadOptions(service=MODEL))] == [0.0, 1.234]


def test_plain_csv_takes_service_seconds_or_draws_them(tmp_path: Path) -> None:
    trace = tmp_path / "plain.csv"
    trace.write_text("timestamp,service_seconds\n10,2.5\n12\n11,1\n")
    requests = load_trace(trace, LoadOptions(service=MODEL))
    assert [r.arrival for r in requests] == [0.0, 1.0, 2.0]
    assert requests[0].service == 2.5
    assert requests[1].service == 1.0
    assert requests[2].service >= MODEL.base


def test_compression_divides_arrival_times(tmp_path: Path) -> None:
    trace = tmp_path / "plain.csv"
    trace.write_text("0,1\n10,1\n")
    assert [r.arrival for r in load_trace(trace, LoadOptions(compress=2.0))] == [0.0, 5.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("0,1\nsoon,1\n", "plain.csv:2: timestamp 'soon' is not a number"),
        ("0,-1\n", "service_seconds must be positive"),
        ("", "holds no requests"),
    ],
)
def test_bad_plain_csv_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    trace = tmp_path / "plain.csv"
    trace.write_text(content)
    with pytest.raises(TraceError, match=message):
        load_trace(trace, LoadOptions())


def test_format_is_detected_from_the_name_and_header(tmp_path: Path) -> None:
    azure = tmp_path / "a.csv"
    azure.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    plain = tmp_path / "b.csv"
    plain.write_text("0,1\n")
    servegen = tmp_path / "chunk-1-trace.csv"
    servegen.write_text("0,0.5,1.0,Gamma,1.0,2.0\n")
    assert detect_format(azure) == "azure"
    assert detect_format(plain) == "csv"
    assert detect_format(servegen) == "servegen"
    assert detect_format(tmp_path / "x.jsonl") == "mooncake"
    assert detect_format(tmp_path / "x.tar.gz") == "servegen"
    with pytest.raises(TraceError, match="--format"):
        detect_format(tmp_path / "x.parquet")


@pytest.mark.parametrize(
    ("distribution", "shape", "scale"), [("Gamma", 0.5, 3.0), ("Weibull", 0.6, 0.2), ("", 0, 0)]
)
def test_servegen_arrivals_keep_the_window_rate_whatever_the_fitted_shape(
    distribution: str, shape: float, scale: float
) -> None:
    windows = [RateWindow(0.0, 4.0, distribution, shape, scale), RateWindow(600.0, 0.0, "", 0, 0)]
    arrivals = servegen_arrivals(windows, 0.0, 1200.0, random.Random(3))
    assert all(0.0 <= t < 600.0 for t in arrivals)  # the second window has no traffic
    assert len(arrivals) / 600.0 == pytest.approx(4.0, rel=0.2)


def test_servegen_gaps_are_burstier_for_a_high_cv_fit() -> None:
    bursty = servegen_arrivals([RateWindow(0.0, 5.0, "Weibull", 0.35, 0.3)], 0.0, 600.0, random.Random(1))
    gaps = [b - a for a, b in itertools.pairwise(bursty)]
    assert statistics.pstdev(gaps) / statistics.mean(gaps) > 2.0


def _servegen_archive(path: Path, clients: dict[str, str]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in clients.items():
            data = text.encode()
            info = tarfile.TarInfo(f"data/{name}-trace.csv")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_servegen_archive_selects_one_client_or_sums_a_group(tmp_path: Path) -> None:
    archive = tmp_path / "rates.tar.gz"
    quiet = "0,0,0,,0,0\n600,1.0,1.0,Gamma,1.0,1.0\n"
    busy = "0,2.0,1.0,Gamma,1.0,0.5\n600,3.0,1.0,Gamma,1.0,0.3\n"
    _servegen_archive(
        archive, {"reason/m/chunk-1": quiet, "reason/m/chunk-2": busy, "language/x/chunk-1": busy}
    )
    assert set(read_servegen_profiles(archive, "reason/m")) == {"reason/m/chunk-1", "reason/m/chunk-2"}
    assert set(read_servegen_profiles(archive, "reason/m/chunk-2")) == {"reason/m/chunk-2"}
    with pytest.raises(TraceError, match="groups: language/x, reason/m"):
        read_servegen_profiles(archive, "nothing/here")
    group = read_servegen_profiles(archive, "reason/m")
    assert busiest_hour_start(group) == 0.0
    options = LoadOptions(
        fmt="servegen", servegen_client="reason/m", servegen_start=600, servegen_duration=600
    )
    requests = load_trace(archive, options)
    assert len(requests) / 600 == pytest.approx(4.0, rel=0.25)


def test_servegen_rows_must_have_six_columns() -> None:
    with pytest.raises(TraceError, match="expected 6 ServeGen columns"):
        parse_servegen_rows([["0", "1.0"]], "x.csv")


@pytest.mark.skipif(not SHARED_TRACES.is_dir(), reason="the shared traces are not beside the repository")
def test_the_real_traces_load_with_their_documented_sizes() -> None:
    azure = load_trace(SHARED_TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv", LoadOptions())
    assert len(azure) == 19366
    assert azure[-1].arrival == pytest.approx(3502, abs=1)
    mooncake = load_trace(SHARED_TRACES / "mooncake-fast25" / "conversation_trace.jsonl", LoadOptions())
    assert len(mooncake) == 12031
    assert all(math.isfinite(r.service) and r.service > 0 for r in mooncake)
    servegen = load_trace(
        SHARED_TRACES / "servegen" / "servegen_rate_traces.tar.gz",
        LoadOptions(servegen_client="reason/deepseek-r1", servegen_duration=600),
    )
    assert 600 * 10 < len(servegen) < 600 * 60  # the group's busiest hour runs at 10-60 requests/s
