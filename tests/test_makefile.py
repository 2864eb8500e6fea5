"""`make reproduce QUICK=1` builds the paper figures from scratch (slow: a quick-scale training run)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parents[1]


@pytest.mark.slow
def test_reproduce_quick_builds_the_so2_figures(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    make = ["make", f"VENV={VENV}", "-o", f"{VENV}/.installed", "-o", "install", "QUICK=1"]
    proc = subprocess.run([*make, "reproduce"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name in ("so2_generator-quick.pdf", "so2_generator-quick.png", "so2_generator-quick.metrics.json"):
        assert (tmp_path / "figures" / name).is_file(), name
    record = json.loads((tmp_path / "figures" / "so2_generator-quick.metrics.json").read_text())
    assert record["status"] == "ok" and record["metrics"]["generator_cos_data"] >= 0.99
    for name in ("so2_figure4-quick.pdf", "so2_figure4-quick.png"):
        assert (tmp_path / "figures" / name).is_file(), name
    panels = json.loads((tmp_path / "figures" / "so2_figure4-quick.metrics.json").read_text())
    assert list(panels) == ["recursive_angle", "fixed_angle", "lstsq"]
    assert panels["fixed_angle"]["generator_cos_sw"] == pytest.approx(0.27, abs=0.01)  # the paper's 0.27
    again = subprocess.run([*make, "reproduce"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "lconv run" not in again.stdout  # up to date: nothing reruns
