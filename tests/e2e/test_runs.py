"""Runs end to end: the run record, determinism, divergence, failures and their exit codes."""

import math

import pytest
import torch

from tests.helpers import SMOKE, lconv, read_json

TIMING = ("train_seconds",)


def comparable(metrics: dict) -> dict:
    """Metrics that must reproduce exactly (wall-clock timings cannot)."""
    return {k: v for k, v in metrics.items() if not k.endswith("_seconds")}


def test_smoke_run_writes_the_record(tmp_path):
    proc = lconv("run", "so2_discovery", *SMOKE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "outputs" / "so2_discovery").iterdir()  # outputs/<experiment>/<timestamp>/
    for name in (
        "config.yaml",
        "metrics.json",
        "run.log",
        "checkpoint.pt",
        "figures/so2_generator.png",
        "figures/so2_generator.pdf",
    ):
        assert (run_dir / name).is_file(), name
    record = read_json(run_dir / "metrics.json")
    assert set(record) >= {"experiment", "status", "seed", "wall_seconds", "metrics", "versions", "device"}
    assert record["experiment"] == "so2_discovery" and record["status"] == "ok" and record["seed"] == 0
    assert record["device"] == ("cpu" if not torch.cuda.is_available() else record["device"])
    assert set(record["versions"]) == {"lconv", "torch", "python"}
    metrics = record["metrics"]
    assert set(metrics) >= {"generator_cos_data", "test_mse", "train_seconds"}
    not_reached = {"steps_to_cos_0.99", "seconds_to_cos_0.99"}  # smoke is too short to reach 0.99: null
    assert all(math.isfinite(v) for k, v in metrics.items() if k not in not_reached)
    assert all(metrics[k] is None for k in not_reached if metrics["generator_cos_data"] < 0.99)
    assert 0.0 <= metrics["generator_cos_data"] <= 1.0
    assert metrics["steps"] == 60 and metrics["num_params"] == 49 * 49
    config_text = (run_dir / "config.yaml").read_text()
    assert ("${" not in config_text and str(run_dir.resolve()) in config_text) or str(run_dir) in config_text
    assert "training started" in (run_dir / "run.log").read_text()
    assert "generator_cos_data" in proc.stdout  # results table


def test_same_seed_same_metrics(tmp_path):
    records = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        proc = lconv("run", *SMOKE, f"seed={seed}", f"paths.output_dir={tmp_path / name}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        records.append(read_json(tmp_path / name / "metrics.json")["metrics"])
    assert comparable(records[0]) == comparable(records[1])
    assert records[0]["generator_cos_data"] != records[2]["generator_cos_data"]


def test_divergence_stops_the_run(tmp_path):
    proc = lconv("run", *SMOKE, "trainer.lr=1e6", f"paths.output_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 1
    assert "diverged" in proc.stderr and "Traceback" not in proc.stderr
    record = read_json(tmp_path / "run" / "metrics.json")
    assert record["status"] == "diverged"
    assert "trainer.lr" in record["error"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_user_error_inside_a_run_exits_2(tmp_path):
    proc = lconv("run", *SMOKE, "device=cuda", f"paths.output_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 2
    assert "CUDA is not available" in proc.stderr and "Traceback" not in proc.stderr
    assert read_json(tmp_path / "run" / "metrics.json")["status"] == "failed"
