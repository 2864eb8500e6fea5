"""latent_symmetry runs on fake data: every family setting, reproducibility, other datasets, a refused basis."""

from __future__ import annotations

import math

import pytest

from lconv_cli.errors import UserError
from lconv_cli.reporting.latent_figures import latent_figure
from tests.fake_datasets import fake_cifar_dataset, fake_idx_dataset
from tests.helpers import SMOKE, lconv, read_json

# --- runs ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    fake_idx_dataset(root, "MNIST", num_train=200, num_test=80, seed=0)
    fake_idx_dataset(root, "FashionMNIST", num_train=200, num_test=80, seed=1)
    fake_cifar_dataset(root, "cifar10", per_batch=20, num_test=40)
    return root


def test_smoke_runs_every_family_setting(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = lconv(
        "run",
        "-m",
        "experiment=latent_symmetry",
        *SMOKE,
        "transform=rotation,sct_x",
        "data.task=same_image,different_image",
        "data.distribution=bimodal",
        "data.verify=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env={"LCONV_DATA": str(fake_root)},
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_json(sweep / "summary.json")
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert [r["metrics"]["num_fields"] for r in rows] == [
        6,
        6,
        12,
        12,
    ]  # auto basis: affine for rotation, quadratic for SCT
    run_dir = sweep / "0"
    for name in (
        "coefficients.csv",
        "predictions.pt",
        "figures/latent_flow.png",
        "figures/t_histogram.png",
        "figures/reconstructions.png",
    ):
        assert (run_dir / name).is_file(), name
    for key in ("generator_cos", "t_r2", "t_w1", "recon_mse", "scaling_component"):
        assert math.isfinite(rows[0]["metrics"][key]), key
    paths = latent_figure({"rotation": sweep / "0", "sct_x": sweep / "2"}, tmp_path / "fig" / "latent_flows")
    assert all(p.is_file() for p in paths)
    summary = read_json(tmp_path / "fig" / "latent_flows.metrics.json")
    assert (
        list(summary) == ["rotation", "sct_x"]
        and summary["sct_x"]["generator_cos"] == rows[2]["metrics"]["generator_cos"]
    )
    with pytest.raises(UserError, match="is it a finished latent_symmetry run directory"):
        latent_figure({"x": tmp_path}, tmp_path / "fig" / "bad")


@pytest.mark.slow  # same-seed reproducibility stays in the fast suite via test_runs.py (CI time budget)
def test_same_seed_same_numbers_and_other_datasets(fake_root, tmp_path):
    args = ["run", "experiment=latent_symmetry", *SMOKE, "data.verify=false"]
    env = {"LCONV_DATA": str(fake_root)}
    first = lconv(*args, f"paths.output_dir={tmp_path / 'a'}", cwd=tmp_path, env=env)
    second = lconv(*args, f"paths.output_dir={tmp_path / 'b'}", cwd=tmp_path, env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a, b = (read_json(tmp_path / d / "metrics.json")["metrics"] for d in ("a", "b"))
    for key in ("generator_cos", "t_r2", "recon_mse", "final_train_loss"):
        assert a[key] == b[key], key
    sweep = tmp_path / "datasets"
    proc = lconv(
        "run",
        "-m",
        "experiment=latent_symmetry",
        *SMOKE,
        "dataset=fashion_mnist,cifar10",
        "transform=scale",
        "data.verify=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in read_json(sweep / "summary.json")] == ["ok", "ok"]


def test_sct_in_the_affine_basis_is_one_clear_line(fake_root, tmp_path):
    proc = lconv(
        "run",
        "experiment=latent_symmetry",
        *SMOKE,
        "transform=sct_x",
        "model.basis=affine",
        "data.verify=false",
        f"paths.output_dir={tmp_path / 'run'}",
        cwd=tmp_path,
        env={"LCONV_DATA": str(fake_root)},
    )
    assert proc.returncode == 2
    assert "do not fit model.basis=affine" in proc.stderr
