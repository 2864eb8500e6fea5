"""lieconv_rotmnist and lieconv_qm9 smoke runs, and a clear error for a group not on R^2."""

from __future__ import annotations

import importlib.util

import pytest

from tests.fake_datasets import fake_idx_dataset
from tests.helpers import SMOKE, lconv, read_json

needs_qm9 = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="qm9pack is not installed")


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return fake_idx_dataset(tmp_path_factory.mktemp("data"), "MNIST", num_train=200, num_test=110, seed=0)


def rotmnist(fake_root, tmp_path, *overrides: str):
    """A smoke run of lieconv_rotmnist on the fake MNIST root with ``overrides``."""
    return lconv(
        "run",
        "experiment=lieconv_rotmnist",
        *SMOKE,
        "data.verify=false",
        *overrides,
        cwd=tmp_path,
        env={"LCONV_DATA": str(fake_root)},
    )


@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_rotmnist_smoke_run_leaves_a_record(fake_root, tmp_path, precision):
    proc = rotmnist(
        fake_root, tmp_path, "group=SO2", f"trainer.precision={precision}", f"paths.output_dir={tmp_path / 'run'}"
    )
    assert proc.returncode == 0, proc.stderr
    assert f"precision: {precision}" in (tmp_path / "run" / "config.yaml").read_text()
    metrics = read_json(tmp_path / "run" / "metrics.json")["metrics"]
    assert 0 <= metrics["test_error"] <= 100 and metrics["steps"] == 2 and metrics["num_params"] > 0
    assert (tmp_path / "run" / "figures" / "learning_curve.png").is_file()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_pooled_digits_shrink_the_grid_and_a_pool_that_does_not_divide_28_is_refused(fake_root, tmp_path):
    proc = rotmnist(fake_root, tmp_path, "group=SE2", "data.pool=2", f"paths.output_dir={tmp_path / 'pooled'}")
    assert proc.returncode == 0, proc.stderr
    assert "points per layer [312," in (tmp_path / "pooled" / "run.log").read_text()  # 156 pixels × 2 lift samples
    proc = rotmnist(fake_root, tmp_path, "group=SE2", "data.pool=3", f"paths.output_dir={tmp_path / 'bad'}")
    assert proc.returncode == 2
    assert "data.pool must divide 28 (1, 2, 4, 7, 14 or 28); got 3" in proc.stderr


def test_an_unknown_group_is_a_clear_error(fake_root, tmp_path):
    proc = rotmnist(fake_root, tmp_path, "group=SE3")
    assert proc.returncode == 2
    assert "group=SE3 is not a group on R^2; choose one of Trivial, T2, SO2, RxSO2, SE2" in proc.stderr


@needs_qm9
@pytest.mark.parametrize("group", ["T3", "SE3", "SO3", "Trivial"])
def test_qm9_smoke_run(tmp_path, group):
    proc = lconv(
        "run",
        "experiment=lieconv_qm9",
        f"group={group}",
        "data.target=U0",
        *SMOKE,
        f"data.cache_dir={tmp_path / 'cache'}",
        f"paths.output_dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "run" / "metrics.json")["metrics"]
    assert metrics["baseline_mae"] > 0 and metrics["test_mae"] > 0 and metrics["steps"] == 2
    assert metrics["mae_ratio"] == pytest.approx(metrics["baseline_mae"] / metrics["test_mae"])
    assert (tmp_path / "cache" / "qm9" / "qm9_qm9pack-1.0.3.pt").is_file()
