"""Keeps the layers honest: the engine is pure, and the API layer depends on nothing above it.

Reads the source with `ast` (nothing is imported), so a forbidden import fails
here even when it sits in a branch no test executes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "modelscaler"

# What the engine may never import: cluster and Prometheus clients, network I/O,
# and the layers above it.
ENGINE_FORBIDDEN_IMPORTS = (
    "kopf",
    "kubernetes",
    "prometheus_api_client",
    "prometheus_client",
    "requests",
    "aiohttp",
    "modelscaler.runtime",
    "modelscaler.metrics",
    "modelscaler.actuator",
    "modelscaler.simulate",
)
# Wall-clock reads: the engine takes `now` as an argument.
CLOCK_CALLS = {("time", "time"), ("time", "monotonic"), ("datetime", "now"), ("datetime", "utcnow")}


def python_files(layer: str) -> list[Path]:
    """Every module of one layer of the package."""
    return sorted((PACKAGE / layer).rglob("*.py"))


def forbidden_imports(
    tree: ast.AST, module_name: str, forbidden: tuple[str, ...]
) -> Iterator[tuple[int, str]]:
    """(line, module) for each import statement that reaches a forbidden module (relative ones resolved).

    `from modelscaler import runtime` counts as importing modelscaler.runtime.
    """
    package_parts = module_name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        else:
            continue
        hits = [
            name for name in candidates if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
        ]
        if hits:
            yield node.lineno, hits[0]


def clock_calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, "a.b") for every call of the form a.b(...) or x.a.b(...) that reads the wall clock."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if (owner_name, node.func.attr) in CLOCK_CALLS:
                yield node.lineno, f"{owner_name}.{node.func.attr}"


def module_name_of(path: Path) -> str:
    """modelscaler.engine.decide for .../modelscaler/engine/decide.py (packages end in .__init__)."""
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def violations(layer: str, forbidden: tuple[str, ...], check_clock: bool) -> list[str]:
    """Human-readable findings for one layer."""
    found = []
    for path in python_files(layer):
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(PACKAGE.parent)
        found += [
            f"{where}:{line} imports {module}"
            for line, module in forbidden_imports(tree, module_name_of(path), forbidden)
        ]
        if check_clock:
            found += [f"{where}:{line} calls {call}()" for line, call in clock_calls(tree)]
    return found


def test_the_layers_exist() -> None:
    assert python_files("engine"), "no engine modules found: the layering test would check nothing"
    assert python_files("api")


def test_engine_imports_no_cluster_prometheus_or_upper_layer_and_reads_no_clock() -> None:
    assert violations("engine", ENGINE_FORBIDDEN_IMPORTS, check_clock=True) == []


def test_api_imports_nothing_from_the_engine() -> None:
    assert violations("api", ("modelscaler.engine",), check_clock=False) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import kopf", ["imports kopf"]),
        ("from kubernetes import client", ["imports kubernetes"]),
        ("from ..runtime import loop", ["imports modelscaler.runtime"]),
        ("from modelscaler import metrics", ["imports modelscaler.metrics"]),
        ("from . import window", []),
        ("import prometheus_client.core", ["imports prometheus_client.core"]),
        ("import time\nnow = time.time()", ["calls time.time()"]),
        ("from datetime import datetime\nnow = datetime.now()", ["calls datetime.now()"]),
        ("import datetime\nnow = datetime.datetime.utcnow()", ["calls datetime.utcnow()"]),
        ("import math\nfrom modelscaler.engine.types import Memory", []),
    ],
)
def test_the_checker_catches_what_it_should(source: str, expected: list[str]) -> None:
    tree = ast.parse(source)
    imports = [
        f"imports {module}"
        for _, module in forbidden_imports(tree, "modelscaler.engine.probe", ENGINE_FORBIDDEN_IMPORTS)
    ]
    calls = [f"calls {call}()" for _, call in clock_calls(tree)]
    assert [*imports, *calls] == expected
