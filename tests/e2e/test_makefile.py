"""`make reproduce QUICK=1` builds the paper figures from scratch (slow: quick-scale training runs).

The image table runs on a tiny fake MNIST with one epoch, two variants and two seeds; the latent
symmetry figure on the same fake MNIST with 20 steps per transform; the LieConv tables with tiny
models for one epoch (rotated MNIST from the fake MNIST, QM9 from qm9pack, cached under the data root);
the spring figures with HLieResNet(T2) and FC on 16 systems and a 2 × 2 × 2 data-size sweep.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_datasets import fake_idx_dataset
from tests.helpers import REPO

SPRINGS_TINY = "data.num_valid=8 data.num_test=8 data.long_steps=10 evaluation.long_systems=4 trainer.batch_size=8"
VENV = Path(sys.executable).parents[1]


@pytest.mark.slow
def test_reproduce_quick_builds_the_so2_figures(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    make = [
        "make",
        f"VENV={VENV}",
        "-o",
        f"{VENV}/.installed",
        "-o",
        "install",
        "QUICK=1",
        "IMAGE_DATASETS=mnist",
        "IMAGE_VARIANTS=plain,rotated_scrambled",
        "SEEDS=0,1",
        "IMAGE_ARGS=trainer.epochs=1 data.train_subset=600 data.test_subset=200 data.verify=false",
        "LATENT_ARGS=data.verify=false trainer.max_steps=20 trainer.log_every=10 data.num_train=300 data.num_test=100",
        "ROTMNIST_ARGS=data.verify=false model.k=16 model.num_layers=2 trainer.epochs=1 data.train_subset=50 data.val_size=20 data.test_subset=40",
        "QM9_ARGS=model.k=32 model.num_layers=2 trainer.epochs=1 data.train_subset=60 data.valid_subset=30 data.test_subset=30",
        "EFFICIENCY_DATASETS=mnist",
        "EFFICIENCY_SIZES=300",
        "EFFICIENCY_MODELS=lconv_discovered,lconv_oracle,fc",
        "EFFICIENCY_MIN_STEPS=0",
        "EFFICIENCY_ARGS=trainer.epochs=1 data.test_subset=100 data.verify=false",
        "DISCOVERY_ARGS=data.num_pairs=300 data.test_pairs=20 data.verify=false model.max_iter=5",
        "SPRINGS_MODELS=T2 fc",
        f"SPRINGS_ARGS={SPRINGS_TINY} data.num_train=16 trainer.epochs=1",
        "SPRINGS_SIZES=8,16",
        "SPRINGS_SIZE_MODELS=hlieresnet,fc",
        f"SPRINGS_SIZE_ARGS={SPRINGS_TINY} trainer.max_steps=2 trainer.log_every=1",
    ]
    env = {
        **os.environ,
        "LCONV_DATA": str(fake_idx_dataset(tmp_path / "data", num_train=600, num_test=200)),
        "WANDB_MODE": "disabled",
    }
    proc = subprocess.run([*make, "reproduce"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
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
    for suffix in (".md", ".csv", ".pdf", ".png"):
        assert (tmp_path / "figures" / f"images_table-quick{suffix}").is_file(), suffix
    with open(tmp_path / "figures" / "images_table-quick.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["variant"], r["model"]) for r in rows] == [
        (v, m) for v in ("plain", "rotated_scrambled") for m in ("lconv", "cnn", "fc")
    ]
    assert {r["seeds"] for r in rows} == {"2"} and {r["num_params"] for r in rows if r["model"] == "lconv"} == {
        "188362"
    }
    with open(tmp_path / "figures" / "sample_efficiency-quick.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["model"], r["num_train"]) for r in rows] == [
        (m, "270") for m in ("lconv_discovered", "lconv_oracle", "fc")
    ]
    (source,) = json.loads(
        next((tmp_path / "results" / "efficiency-mnist-quick").rglob("generators_source.json")).read_text()
    )["sources"]
    assert source["discovery_task"] == "image_generators" and source["names"] == ["tx", "ty", "rotation", "scale"]
    for suffix in (".pdf", ".png"):
        assert (tmp_path / "figures" / f"latent_flows-quick{suffix}").is_file(), suffix
    latent = json.loads((tmp_path / "figures" / "latent_flows-quick.metrics.json").read_text())
    assert list(latent) == ["rotation", "scale", "tx", "sct_x"]
    with open(tmp_path / "figures" / "lieconv_rotmnist_table-quick.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["group"] for r in rows] == ["SE2", "T2"] and all(0 <= float(r["value"]) <= 100 for r in rows)
    with open(tmp_path / "figures" / "lieconv_qm9_table-quick.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["group"], r["target"], r["published"]) for r in rows] == [("T3", "homo", "30")]
    with open(tmp_path / "figures" / "springs-quick.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == ["HLieResNet(T2)", "FC"] and all(float(r["rollout_mse"]) > 0 for r in rows)
    for stem in (
        "springs-quick_trajectories",
        "springs-quick_momentum",
        "springs-quick_errors",
        "springs-quick_data_scaling",
    ):
        assert (tmp_path / "figures" / f"{stem}.png").is_file(), stem
    scaling = json.loads((tmp_path / "figures" / "springs-quick_data_scaling.metrics.json").read_text())
    assert {label: sorted(sizes) for label, sizes in scaling.items()} == {
        "FC": ["16", "8"],
        "HLieResNet(T2)": ["16", "8"],
    }
    assert scaling["FC"]["8"]["seeds"] == 2
    again = subprocess.run([*make, "reproduce"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "lconv run" not in again.stdout  # up to date: nothing reruns
