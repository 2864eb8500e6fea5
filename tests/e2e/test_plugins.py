"""Experiments from other distributions: a throwaway plugin package, installed into a folder of its own
(never the project's environment), is listed, run, swept and checked like a bundled experiment."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.helpers import SMOKE, lconv, pip_install_into, plugin_pyproject, python_path_env, read_json

TOY_EXPERIMENT = """\
from lconv_cli.runner.registry import register
from lconv_cli.runner.schema import POSITIVE_INT


@register("toy_plugin", rules=[("toy.width", POSITIVE_INT)])
def run(cfg):
    return {"width_squared": float(cfg.toy.width) ** 2, "depth": int(cfg.toy.depth)}
"""

BROKEN_EXPERIMENT = """\
import lconv_toy_missing_dependency  # noqa: F401  (not installed: the plugin fails to import)
"""


def write_plugin(root: Path, dist: str, name: str, experiment: str) -> Path:
    """A source tree of distribution ``dist`` whose package ``<name>_pkg`` ships experiment ``name``."""
    package = f"{name}_pkg"
    files = {
        "pyproject.toml": plugin_pyproject(dist, name, f"{package}.experiment", package),
        f"{package}/__init__.py": "",
        f"{package}/experiment.py": experiment,
        f"{package}/conf/__init__.py": "",
        f"{package}/conf/experiment/{name}.yaml": f"""\
            # @package _global_
            task: {name}
            description: {name} from the plugin {dist}
            toy:
              width: 3
              depth: 2
            """,
    }
    for scale in ("smoke", "quick", "paper"):
        depth = 1 if scale == "smoke" else 2
        files[f"{package}/conf/experiment_scale/{name}/{scale}.yaml"] = f"# @package _global_\ntoy:\n  depth: {depth}\n"
    source = root / dist
    for relative, text in files.items():
        path = source / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return source


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    """Two plugins (one that works, one whose experiment fails to import) installed into a folder that
    only the ``lconv`` subprocesses given this environment see."""
    root = tmp_path_factory.mktemp("plugins")
    site = root / "site"
    sources = [
        write_plugin(root, "lconv-toy-plugin", "toy_plugin", TOY_EXPERIMENT),
        write_plugin(root, "lconv-toy-broken", "toy_broken", BROKEN_EXPERIMENT),
    ]
    for source in sources:
        pip_install_into(site, source)
    return python_path_env(site)


def test_plugin_experiment_is_listed_with_its_distribution(plugin_env, tmp_path):
    proc = lconv("list", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[1]: line for line in proc.stdout.splitlines() if line.startswith("│")}
    assert "toy_plugin from the plugin lconv-toy-plugin" in rows["toy_plugin"]
    assert rows["toy_plugin"].rstrip(" │").endswith("lconv-toy-plugin")
    assert rows["so2_discovery"].rstrip(" │").endswith("lconv_cli")
    assert "toy_broken" in rows  # its configs can be read: only its code is broken


def test_plugin_experiment_runs_with_its_scale_presets(plugin_env, tmp_path):
    out = tmp_path / "run"
    proc = lconv("run", "toy_plugin", *SMOKE, f"paths.output_dir={out}", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 0, proc.stderr
    record = read_json(out / "metrics.json")
    assert record["experiment"] == "toy_plugin" and record["status"] == "ok"
    assert record["metrics"] == {"width_squared": 9.0, "depth": 1}  # depth from experiment_scale/toy_plugin/smoke


def test_plugin_rules_are_checked_and_keys_without_rules_pass(plugin_env, tmp_path):
    out = tmp_path / "refused"
    proc = lconv("run", "toy_plugin", *SMOKE, "toy.width=0", f"paths.output_dir={out}", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "lconv: error: toy.width must be a positive integer; got 0"
    assert not out.exists()
    proc = lconv(
        "run",
        "toy_plugin",
        *SMOKE,
        "toy.depth=-5",
        f"paths.output_dir={tmp_path / 'free'}",
        cwd=tmp_path,
        env=plugin_env,
    )
    assert proc.returncode == 0, proc.stderr


def test_plugin_experiment_sweeps(plugin_env, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = lconv(
        "run", "-m", "toy_plugin", *SMOKE, "toy.width=2,4", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path, env=plugin_env
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_json(sweep_dir / "summary.json")
    assert [row["metrics"]["width_squared"] for row in rows] == [4.0, 16.0]


def test_a_broken_plugin_is_one_line_naming_its_entry_point(plugin_env, tmp_path):
    out = tmp_path / "run"
    proc = lconv("run", "toy_broken", *SMOKE, f"paths.output_dir={out}", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "'toy_broken = toy_broken_pkg.experiment'" in line and "lconv-toy-broken" in line
    assert "ModuleNotFoundError: No module named 'lconv_toy_missing_dependency'" in line
    assert not out.exists()
    # the other experiments are not affected
    proc = lconv("run", "toy_plugin", *SMOKE, f"paths.output_dir={tmp_path / 'ok'}", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 0, proc.stderr
