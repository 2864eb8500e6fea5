"""The "Adding an experiment" page works as written: its files, taken from the page's code blocks, make an
experiment that `lconv list` shows and `lconv run` runs to the numbers the page quotes.

The page adds the files to this repository (`experiments/`, `conf/`); the test must not, so it ships the
same files as a throwaway distribution (module and configs unchanged) installed into a folder of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import REPO, SMOKE, lconv, pip_install_into, plugin_pyproject, python_path_env, read_json

PAGE = REPO / "docs" / "adding-an-experiment.md"
BLOCK = re.compile(r'```(?:python|yaml) title="([^"]+)"\n(.*?)```', re.S)


def page_files() -> dict[str, str]:
    """The page's files: repository path → text, from its code blocks titled with a path."""
    return dict(BLOCK.findall(PAGE.read_text()))


@pytest.fixture(scope="module")
def walkthrough_env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("walkthrough")
    source = root / "lconv-walkthrough"
    pyproject = plugin_pyproject("lconv-walkthrough", "rotation_3d", "walkthrough.rotation_3d", "walkthrough")
    files = {"pyproject.toml": pyproject, "walkthrough/__init__.py": "", "walkthrough/conf/__init__.py": ""}
    for path, text in page_files().items():
        if path.startswith("experiments/"):
            files[f"walkthrough/{Path(path).name}"] = text
        else:
            files[f"walkthrough/{path}"] = text
    for relative, text in files.items():
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    pip_install_into(root / "site", source)
    return python_path_env(root / "site")


def test_the_page_names_the_files_of_an_experiment():
    assert sorted(page_files()) == [
        "conf/data/point_rotations.yaml",
        "conf/experiment/rotation_3d.yaml",
        "conf/experiment_scale/rotation_3d/paper.yaml",
        "conf/experiment_scale/rotation_3d/smoke.yaml",
        "experiments/rotation_3d.py",
    ]


def test_the_walkthrough_experiment_is_listed_and_runs_to_the_quoted_numbers(walkthrough_env, tmp_path):
    listing = lconv("list", cwd=tmp_path, env=walkthrough_env)
    assert listing.returncode == 0, listing.stderr
    assert "learn the z-rotation generator of so(3) from 3D point pairs" in listing.stdout

    out = tmp_path / "run"
    proc = lconv(
        "run", "rotation_3d", *SMOKE, "num_threads=1", f"paths.output_dir={out}", cwd=tmp_path, env=walkthrough_env
    )
    assert proc.returncode == 0, proc.stderr
    record = read_json(out / "metrics.json")
    assert record["status"] == "ok" and record["metrics"]["steps"] == 20
    quoted = re.search(r"the smoke run trains 20 steps and ends with `generator_cos` ([0-9.]+)", PAGE.read_text())
    assert quoted, "the page no longer quotes the smoke run's generator_cos"
    assert f"{record['metrics']['generator_cos']:.6f}" == quoted.group(1)
    assert (out / "figures" / "generator.png").is_file()


def test_the_walkthrough_rule_refuses_a_reversed_angle_range(walkthrough_env, tmp_path):
    out = tmp_path / "refused"
    proc = lconv(
        "run",
        "rotation_3d",
        *SMOKE,
        "data.angle_range=[1,0]",
        f"paths.output_dir={out}",
        cwd=tmp_path,
        env=walkthrough_env,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "data.angle_range" in proc.stderr
    assert not out.exists()
