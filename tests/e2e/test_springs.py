"""lieconv_springs runs: every model and group, reproducibility, figures, one-line config errors."""

from __future__ import annotations

import math

import pytest

from tests.helpers import SMOKE, lconv, read_json


@pytest.mark.parametrize(
    "sweep", [["group=T2,SO2,Trivial"], ["model=fc,hfc,ogn,hogn"]], ids=["hlieresnet", "baselines"]
)
def test_springs_smoke_runs(tmp_path, sweep):
    """Every model and group, as one multirun per family (one process start each)."""
    proc = lconv(
        "run",
        "-m",
        "experiment=lieconv_springs",
        *sweep,
        *SMOKE,
        f"data.cache_dir={tmp_path / 'data'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    jobs = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    assert len(jobs) == len(sweep[0].split("=")[1].split(","))
    for path in jobs:
        run, record = path.parent, read_json(path)
        metrics = record["metrics"]
        assert record["status"] == "ok"
        for key in (
            "rollout_mse",
            "long_rollout_rel_err",
            "energy_rel_err",
            "linear_momentum_drift",
            "angular_momentum_drift",
            "true_linear_momentum_drift",
            "true_angular_momentum_drift",
        ):
            assert math.isfinite(metrics[key]) and metrics[key] >= 0, key
        assert metrics["true_linear_momentum_drift"] < 1e-13 and metrics["steps"] == 2 and metrics["long_systems"] == 4
        assert metrics["true_linear_momentum_rate"] < 1e-13 and metrics["true_angular_momentum_rate"] < 1e-13
        config = (run / "config.yaml").read_text()
        if "name: hlieresnet" in config and "group: T2" in config:
            assert metrics["linear_momentum_rate"] < 1e-13
        if "name: hlieresnet" in config and "group: SO2" in config:  # rounding, amplified near the origin
            assert metrics["angular_momentum_rate"] < 1e-10
        for name in ("trajectories", "conservation", "learning_curve"):
            assert (run / "figures" / f"{name}.png").is_file(), name
        assert (run / "rollout_curves.json").is_file()


def test_springs_runs_are_reproducible_and_conserve_what_their_group_says(tmp_path):
    records = []
    for name in ("a", "b"):
        proc = lconv(
            "run",
            "experiment=lieconv_springs",
            "group=T2",
            *SMOKE,
            f"data.cache_dir={tmp_path / 'data'}",
            f"paths.output_dir={tmp_path / name}",
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        records.append(read_json(tmp_path / name / "metrics.json")["metrics"])
    drop = ("train_seconds", "train_systems_per_second")
    assert {k: v for k, v in records[0].items() if k not in drop} == {
        k: v for k, v in records[1].items() if k not in drop
    }
    assert records[0]["linear_momentum_drift"] < 1e-13  # T(2): linear momentum kept to rounding, in float64


def test_springs_figures_from_runs(tmp_path):
    from lconv_cli.reporting.springs_figures import springs_figures

    proc = lconv(
        "run",
        "-m",
        "experiment=lieconv_springs",
        "group=T2",
        "model=hlieresnet,fc",
        "data.num_train=8,16",
        *SMOKE,
        f"data.cache_dir={tmp_path / 'data'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    runs = {"T2": tmp_path / "sweep" / "0", "FC": tmp_path / "sweep" / "2"}  # model-major job order
    assert "name: fc" in (runs["FC"] / "config.yaml").read_text()
    paths = springs_figures(runs, tmp_path / "fig" / "springs", sizes=[tmp_path / "sweep"])
    names = {p.name for p in paths}
    for stem in ("springs_trajectories", "springs_momentum", "springs_errors", "springs_data_scaling"):
        assert f"{stem}.png" in names and f"{stem}.pdf" in names
    assert "springs.md" in names and "springs.csv" in names
    scaling = read_json(tmp_path / "fig" / "springs_data_scaling.metrics.json")
    assert set(scaling) == {"HLieResNet(T2)", "FC"} and set(scaling["FC"]) == {"8", "16"}


def test_springs_config_errors_are_one_line(tmp_path):
    proc = lconv(
        "run", "experiment=lieconv_springs", "group=SE2", *SMOKE, f"data.cache_dir={tmp_path / 'data'}", cwd=tmp_path
    )
    assert proc.returncode == 2 and "group must be one of T2, SO2, Trivial; got 'SE2'" in proc.stderr
    proc = lconv(
        "run", "experiment=lieconv_springs", "model=cnn", *SMOKE, f"data.cache_dir={tmp_path / 'data'}", cwd=tmp_path
    )
    assert proc.returncode == 2 and "model must be one of hlieresnet, fc, hfc, ogn, hogn; got 'cnn'" in proc.stderr
