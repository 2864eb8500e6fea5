"""Test helpers: run the installed `lconv` command in a subprocess, read records, find the repository and data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Real MNIST / FashionMNIST: $LCONV_DATA, else ../shared/data beside the repository.
SHARED_DATA = Path(os.environ.get("LCONV_DATA", REPO.parent / "shared" / "data"))
LCONV = str(Path(sys.executable).with_name("lconv"))
# Small, fast runs: seconds each on a 2-core CPU.
SMOKE = ["scale=smoke", "logger=none"]


def lconv(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "WANDB_MODE": "disabled", **(env or {})}
    return subprocess.run([LCONV, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def wait_for(path: Path, text: str, timeout: float = 120.0) -> None:
    """Poll ``path`` until it contains ``text`` (e.g. a run log reaching "training started")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{text!r} never appeared in {path}")


PLUGIN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1"

[project.entry-points."lconv.experiments"]
{name} = "{module}"

[project.entry-points."lconv.configs"]
{package} = "{package}.conf"

[tool.setuptools.packages.find]
include = ["{package}*"]

[tool.setuptools.package-data]
"*" = ["*.yaml"]
"""


def plugin_pyproject(dist: str, name: str, module: str, package: str) -> str:
    """pyproject.toml of a throwaway lconv plugin: distribution ``dist`` whose ``module`` registers experiment
    ``name`` (entry point group ``lconv.experiments``) and whose ``<package>.conf`` holds its configs."""
    return PLUGIN_PYPROJECT.format(dist=dist, name=name, module=module, package=package)


def pip_install_into(site: Path, source: Path) -> None:
    """Install the source tree ``source`` into the folder ``site`` (no dependencies, no network, never the
    project's environment); ``python_path_env(site)`` makes ``lconv`` subprocesses see it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=source.parent,
    )


def python_path_env(site: Path) -> dict[str, str]:
    """An environment for ``lconv(...)`` in which the packages installed into ``site`` are importable."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
