"""`modelscaler simulate`: replay a trace through modelscaler and its peers, print what each would cost.

    modelscaler simulate --trace FILE [--format azure|mooncake|servegen|csv] --spec MODELDEPLOYMENT.yaml
        [--policy NAME ...] [--replica-capacity K] [--cold-start 60s] [--objective 5s]
        [--json OUT.json] [--plot OUT.png] [--compress X] [--seed N]

docs/simulator.md describes the model and how to read the output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelscaler.api.durations import parse_duration
from modelscaler.simulate.policies.registry import DEFAULT_POLICIES, POLICY_FACTORIES
from modelscaler.simulate.progress import ProgressBar
from modelscaler.simulate.results import OBJECTIVE_MEASURES, format_table, to_json
from modelscaler.simulate.run import RunSettings, run_policies
from modelscaler.simulate.spec import SpecError, load_spec
from modelscaler.simulate.traces import FORMATS, LoadOptions, ServiceTimeModel, TraceError, load_trace

_SERVICE = ServiceTimeModel()


def seconds(text: str) -> float:
    """A duration option: "60s", "5m", "1h30m", or a bare number of seconds."""
    try:
        value = float(text)
    except ValueError:
        try:
            return parse_duration(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a duration cannot be negative: {text}")
    return value


def _positive_int(text: str) -> int:
    return int(_positive(text, whole=True))


def _positive_float(text: str) -> float:
    return _positive(text, whole=False)


def _positive(text: str, whole: bool) -> float:
    """A number option that must be positive (and whole when asked)."""
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command's options; every default is stated in its help."""
    parser = argparse.ArgumentParser(
        prog="modelscaler simulate",
        description="Replay a request trace through a queueing model of replicas with cold starts, under "
        "modelscaler's engine and its peers (HPA, KEDA, Knative, Ray Serve, Baseten), beside the oracle.",
    )
    parser.add_argument("--trace", type=Path, required=True, help="the trace file")
    parser.add_argument("--format", choices=FORMATS, help="trace format (default: from the file name)")
    parser.add_argument(
        "--spec", type=Path, required=True, help="a ModelDeployment YAML: min/max, target, windows, delay"
    )
    parser.add_argument(
        "--policy",
        action="append",
        metavar="NAME",
        help=f"a policy to run, repeatable: {', '.join(POLICY_FACTORIES)}, or 'all' "
        f"(default: {' '.join(DEFAULT_POLICIES)})",
    )
    parser.add_argument(
        "--replica-capacity",
        type=_positive_int,
        metavar="K",
        help="requests one Ready replica serves at once (default: the spec's concurrencyTarget, rounded up)",
    )
    parser.add_argument(
        "--cold-start",
        type=seconds,
        default=60.0,
        help="seconds from adding a replica to Ready (default 60s)",
    )
    parser.add_argument(
        "--objective",
        type=seconds,
        default=5.0,
        help="latency objective per request, wait + service (default 5s)",
    )
    parser.add_argument(
        "--objective-on",
        choices=OBJECTIVE_MEASURES,
        default="e2e",
        help="what the objective judges: e2e = wait + service, ttft = wait + prefill (default e2e)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the results as JSON")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="draw the timeline as a PNG")
    parser.add_argument(
        "--compress", type=_positive_float, default=1.0, help="divide arrival times by X (default 1)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for generated arrivals and tokens (default 0)"
    )
    parser.add_argument(
        "--scrape-interval", type=seconds, default=1.0, help="seconds between metric scrapes (default 1s)"
    )
    parser.add_argument(
        "--initial-replicas",
        type=int,
        help="Ready replicas at t=0 (default: spec.initialReplicas, else what the first window needs)",
    )
    service = parser.add_argument_group(
        "service-time model (service = base + prefill x input + decode x output)"
    )
    service.add_argument("--base-seconds", type=float, default=_SERVICE.base, help=f"default {_SERVICE.base}")
    service.add_argument(
        "--prefill-ms-per-token",
        type=float,
        default=_SERVICE.prefill_per_token * 1000,
        help=f"default {_SERVICE.prefill_per_token * 1000:g}",
    )
    service.add_argument(
        "--decode-ms-per-token",
        type=float,
        default=_SERVICE.decode_per_token * 1000,
        help=f"default {_SERVICE.decode_per_token * 1000:g}",
    )
    service.add_argument(
        "--input-tokens",
        type=int,
        default=_SERVICE.default_input_tokens,
        help=f"input tokens when the trace has none (default {_SERVICE.default_input_tokens})",
    )
    service.add_argument(
        "--output-tokens",
        type=int,
        default=_SERVICE.default_output_tokens,
        help="mean output tokens (exponential) when the trace has none "
        f"(default {_SERVICE.default_output_tokens})",
    )
    servegen = parser.add_argument_group("ServeGen rate profiles")
    servegen.add_argument(
        "--servegen-client",
        default="reason/deepseek-r1",
        help="one client (language/m-large/chunk-1) or a group summed (default reason/deepseek-r1)",
    )
    servegen.add_argument("--servegen-start", type=seconds, help="span start (default: the busiest hour)")
    servegen.add_argument(
        "--servegen-duration", type=seconds, default=3600.0, help="span length (default 1h)"
    )
    parser.add_argument("--no-diagnose", action="store_true", help="skip the diagnosis rules")
    parser.add_argument(
        "--progress", action="store_true", help="draw the progress bar even when not a terminal"
    )
    return parser


def _policy_names(chosen: list[str] | None) -> list[str]:
    if not chosen:
        return list(DEFAULT_POLICIES)
    names: list[str] = []
    for item in chosen:
        for name in item.split(","):
            if name == "all":
                names.extend(n for n in POLICY_FACTORIES if n not in names)
            elif name not in POLICY_FACTORIES:
                raise ValueError(
                    f"--policy: unknown policy {name!r}; choose from {', '.join(POLICY_FACTORIES)}"
                )
            elif name not in names:
                names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    """Runs the simulation; 0 on success, 2 on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        names = _policy_names(args.policy)
        loaded = load_spec(args.spec)
        service = ServiceTimeModel(
            base=args.base_seconds,
            prefill_per_token=args.prefill_ms_per_token / 1000,
            decode_per_token=args.decode_ms_per_token / 1000,
            default_input_tokens=args.input_tokens,
            default_output_tokens=args.output_tokens,
        )
        options = LoadOptions(
            fmt=args.format,
            service=service,
            compress=args.compress,
            seed=args.seed,
            servegen_client=args.servegen_client,
            servegen_start=args.servegen_start,
            servegen_duration=args.servegen_duration,
        )
        requests = load_trace(args.trace, options)
    except (SpecError, TraceError, ValueError) as error:
        print(f"modelscaler simulate: {error}", file=sys.stderr)
        return 2
    settings = RunSettings(
        replica_capacity=args.replica_capacity,
        cold_start=args.cold_start,
        objective=args.objective,
        objective_on=args.objective_on,
        scrape_interval=args.scrape_interval,
        initial_replicas=args.initial_replicas,
        diagnose=not args.no_diagnose,
    )
    progress = ProgressBar(len(names), force=args.progress)
    report = run_policies(requests, loaded.params, names, settings, progress)
    progress.close()
    model = report.model
    print(
        f"{args.trace.name}: {len(requests)} requests over {requests[-1].arrival:.0f} s; "
        f"{service.describe()}; K={model.replica_capacity}, cold start {model.cold_start:g} s, "
        f"objective {settings.objective_on} <= {settings.objective:g} s, "
        f"replicas at t=0: {model.initial_replicas}"
    )
    print(format_table(report.summaries, report.oracle.replica_seconds))
    if not report.oracle.feasible:
        print(
            "note: no schedule avoids queueing "
            "(the load needs more replicas than the t=0 count within a cold start)"
        )
    if args.json:
        extra: dict[str, object] = {
            "trace": args.trace.name,
            "requests": len(requests),
            "replica_capacity": model.replica_capacity,
            "cold_start": model.cold_start,
            "objective": settings.objective,
            "objective_on": settings.objective_on,
            "initial_replicas": model.initial_replicas,
            "service_model": service.describe(),
            "oracle_replica_seconds": report.oracle.replica_seconds,
        }
        args.json.write_text(to_json(report.summaries, extra) + "\n")
    if args.plot:
        from modelscaler.simulate.plot import plot_timeline

        plot_timeline(
            args.plot,
            requests,
            report.results,
            report.oracle.needed,
            settings.objective,
            f"{args.trace.name}: K={model.replica_capacity}, cold start {model.cold_start:g} s",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
