"""The `modelscaler` command: one entry point, one subcommand per job.

Each subcommand lives in the module that owns the job and exposes
`main(argv) -> int`; this file only dispatches, importing lazily so that
`modelscaler crd` does not pay for kopf or matplotlib.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("modelscaler.runtime.main", "run the operator (kopf, the control loop, probes, /metrics)"),
    "crd": ("modelscaler.api.crd", "print the ModelDeployment CustomResourceDefinition as YAML"),
    "simulate": ("modelscaler.simulate.cli", "replay a traffic trace through modelscaler and its peers"),
}


def _usage() -> str:
    lines = ["usage: modelscaler COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `modelscaler COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if args[0] in {"--version", "version"}:
        from modelscaler import __version__

        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"modelscaler: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
