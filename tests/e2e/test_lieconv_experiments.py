"""lieconv_rotmnist and lieconv_qm9: data protocols, configs and smoke runs."""

from __future__ import annotations

import importlib.util
import zipfile

import pytest
import torch

from lconv_cli.data.rotmnist import make_rotated_mnist
from lconv_cli.experiments.lieconv_rotmnist import build_image_model, group_setting
from lconv_cli.models import num_params
from tests.helpers import SMOKE, lconv, read_json
from tests.fake_datasets import fake_idx_dataset

needs_qm9 = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="qm9pack is not installed")


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    fake_idx_dataset(root, "MNIST", num_train=200, num_test=110, seed=0)
    return root


def test_rotated_mnist_protocol_is_seeded_and_disjoint(fake_root):
    splits, source = make_rotated_mnist(fake_root, seed=0, verify=False)
    again, _ = make_rotated_mnist(fake_root, seed=0, verify=False)
    other, _ = make_rotated_mnist(fake_root, seed=1, verify=False)
    assert "seeded" in source
    train_x, train_y = splits["train"]
    test_x, _ = splits["test"]
    assert len(train_x) == 310 * 12 // 62 and len(test_x) == 310 - len(train_x)  # the 12k : 50k proportion
    assert train_x.shape[1:] == (1, 28, 28) and train_x.dtype == torch.float32 and 0 <= train_x.min() and train_x.max() <= 1
    assert torch.equal(train_x, again["train"][0]) and not torch.equal(train_x, other["train"][0])


@pytest.mark.parametrize("as_zip", [False, True])
def test_original_larochelle_files_are_preferred(tmp_path, as_zip):
    folder = tmp_path / "mnist_rotation_new"
    folder.mkdir()
    texts = {}
    for name, rows in (("train_valid", 3), ("test", 2)):
        values = torch.rand(rows, 784, generator=torch.Generator().manual_seed(rows))
        lines = [" ".join(f"{v:.6f}" for v in row.tolist()) + f" {i % 10}" for i, row in enumerate(values)]
        texts[f"mnist_all_rotation_normalized_float_{name}.amat"] = "\n".join(lines) + "\n"
    if as_zip:
        with zipfile.ZipFile(folder / "mnist_rotation_new.zip", "w") as archive:
            for name, text in texts.items():
                archive.writestr(name, text)
    else:
        for name, text in texts.items():
            (folder / name).write_text(text)
    fake_idx_dataset(tmp_path, "MNIST", num_train=20, num_test=10)  # present, but not used
    splits, source = make_rotated_mnist(tmp_path)
    assert source.startswith("mnist_rotation_new")
    assert splits["train"][0].shape == (3, 1, 28, 28) and splits["test"][1].tolist() == [0, 1]
    assert torch.allclose(splits["train"][0][1].flatten(), torch.tensor([float(v) for v in texts[next(iter(texts))].splitlines()[1].split()[:784]]))


def test_official_per_group_settings(compose_cfg):
    cfg = compose_cfg(["experiment=lieconv_rotmnist", "group=SE2"])
    assert group_setting(cfg.model, "alpha", "SE2") == 0.05 and group_setting(cfg.model, "liftsamples", "SE2") == 2
    assert group_setting(cfg.model, "liftsamples", "T2", 1) == 1
    model = build_image_model(cfg)
    assert num_params(model) == 588_837 and model.point_counts[:2] == [1296, 883] and model.group.alpha == 0.05
    qm9 = compose_cfg(["experiment=lieconv_qm9", "group=SE3"])
    assert group_setting(qm9.model, "nbhd", "SE3") == 25 and group_setting(qm9.data, "recenter", "SE3") is True
    assert qm9.trainer.batch_size == 75 and qm9.trainer.lr == 0.003


def test_rotmnist_smoke_run_leaves_a_record(fake_root, tmp_path):
    proc = lconv("run", "experiment=lieconv_rotmnist", "group=SO2", *SMOKE, "data.verify=false", f"paths.output_dir={tmp_path / 'run'}",
                 cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "run" / "metrics.json")["metrics"]
    assert 0 <= metrics["test_error"] <= 100 and metrics["steps"] == 2 and metrics["num_params"] > 0
    assert (tmp_path / "run" / "figures" / "learning_curve.png").is_file()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_an_unknown_group_is_a_clear_error(fake_root, tmp_path):
    proc = lconv("run", "experiment=lieconv_rotmnist", "group=SE3", *SMOKE, "data.verify=false", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert proc.returncode == 2
    assert "group=SE3 is not a group on R^2; choose one of Trivial, T2, SO2, RxSO2, SE2" in proc.stderr


@needs_qm9
@pytest.mark.parametrize("group", ["T3", "SE3", "SO3", "Trivial"])
def test_qm9_smoke_run(tmp_path, group):
    proc = lconv("run", "experiment=lieconv_qm9", f"group={group}", "data.target=U0", *SMOKE,
                 f"data.cache_dir={tmp_path / 'cache'}", f"paths.output_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "run" / "metrics.json")["metrics"]
    assert metrics["baseline_mae"] > 0 and metrics["test_mae"] > 0 and metrics["steps"] == 2
    assert metrics["mae_ratio"] == pytest.approx(metrics["baseline_mae"] / metrics["test_mae"])
    assert (tmp_path / "cache" / "qm9" / "qm9_qm9pack-1.0.3.pt").is_file()
