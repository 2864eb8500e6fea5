"""image_classification runs on fake data: every model and dataset, missing data, interrupt and resume."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time

import pytest
import torch

from lconv_cli.data.generators_file import save_generators
from lconv_cli.lie import rotation_generator_2d
from tests.fake_datasets import fake_image_root
from tests.helpers import LCONV, lconv, read_json, wait_for


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return fake_image_root(tmp_path_factory.mktemp("data"))


# --- runs -------------------------------------------------------------------------------------

MODELS = "lconv,cnn,fc,gcn,lconv_official,cnn_official,fc_official"


def test_smoke_run_of_every_model(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = lconv(
        "run",
        "-m",
        "experiment=image_classification",
        f"model={MODELS}",
        "scale=smoke",
        "logger=none",
        "data.verify=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env={"LCONV_DATA": str(fake_root)},
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_json(sweep / "summary.json")
    assert [r["status"] for r in rows] == ["ok"] * 7
    model_of = {r["job"]: next(o.split("=")[1] for o in r["overrides"] if o.startswith("model=")) for r in rows}
    counts = {model_of[r["job"]]: r["metrics"]["num_params"] for r in rows}
    assert counts["lconv"] == 188_362 and counts["cnn_official"] == 216_650 and counts["fc_official"] == 2_138_834
    for row in rows:
        assert 0.0 <= row["metrics"]["test_accuracy"] <= 1.0 and row["metrics"]["epochs"] == 2
    record = torch.load(sweep / "0" / "variant.pt")
    assert sorted(record["permutation"].tolist()) == list(range(784))
    assert (sweep / "0" / "figures" / "learning_curve.png").is_file()


def test_cifar_and_fashion_runs_on_fake_data(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = lconv(
        "run",
        "-m",
        "experiment=image_classification",
        "dataset=fashion_mnist,cifar10,cifar100",
        "variant=plain,rotated",
        "model=lconv",
        "scale=smoke",
        "logger=none",
        "data.verify=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env={"LCONV_DATA": str(fake_root)},
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_json(sweep / "summary.json")
    assert [r["status"] for r in rows] == ["ok"] * 6
    cifar100 = [r for r in rows if "dataset=cifar100" in r["overrides"]]
    assert all(
        r["metrics"]["num_params"] == 5 * 2 * 1024 * 8 + 6 * 3 * 16 + 6 * 16 + 1024 * 16 * 100 + 100 for r in cifar100
    )


def test_missing_data_is_one_clear_line(tmp_path):
    proc = lconv(
        "run",
        "experiment=image_classification",
        "logger=none",
        f"paths.output_dir={tmp_path / 'run'}",
        cwd=tmp_path,
        env={"LCONV_DATA": str(tmp_path / "empty")},
    )
    assert proc.returncode == 2
    assert "MNIST not found" in proc.stderr and "LCONV_DATA" in proc.stderr and "data.download=true" in proc.stderr


@pytest.mark.slow  # the fast suite keeps test_image_classification_survives_kill_9 (CI time budget)
def test_interrupted_image_run_resumes_to_the_same_numbers(fake_root, tmp_path):
    args = ["experiment=image_classification", "scale=smoke", "logger=none", "data.verify=false", "trainer.epochs=150"]
    env = {**os.environ, "WANDB_MODE": "disabled", "LCONV_DATA": str(fake_root)}
    straight = lconv(
        "run", *args, f"paths.output_dir={tmp_path / 'straight'}", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)}
    )
    assert straight.returncode == 0, straight.stderr
    run_dir = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [LCONV, "run", *args, f"paths.output_dir={run_dir}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(run_dir / "run.log", "training started")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    resumed = lconv("run", f"resume={run_dir}", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert resumed.returncode == 0, resumed.stderr
    step = int((run_dir / "run.log").read_text().split("resumed from")[1].split(" at step ")[1].split("/")[0])
    assert 0 < step < 1350, "the interrupt must land mid-training"

    def timeless(path):
        return {k: v for k, v in read_json(path)["metrics"].items() if "second" not in k}

    assert timeless(run_dir / "metrics.json") == timeless(tmp_path / "straight" / "metrics.json")


def test_the_record_names_the_discovery_run_of_file_generators_and_a_wrong_shape_is_refused(fake_root, tmp_path):
    discovery = tmp_path / "discovery"
    discovery.mkdir()
    (discovery / "config.yaml").write_text("task: so2_discovery\n")
    source = {"task": "so2_discovery", "run_dir": str(discovery), "metrics": {"generator_cos_sw": 0.999}}
    save_generators(discovery / "generators.pt", rotation_generator_2d(28)[None], [28, 28], ["rotation"], source)
    save_generators(tmp_path / "small.pt", rotation_generator_2d(7)[None], [7, 7])
    common = (
        "run",
        "image_classification",
        "model=lconv",
        "model.parametrisation=fixed_low_rank",
        "model.rank=2",
        "model.fixed_generators=file",
    )
    common += ("scale=smoke", "logger=none", "data.verify=false")
    env = {"LCONV_DATA": str(fake_root)}
    proc = lconv(*common, f"generators={discovery}", f"paths.output_dir={tmp_path}/use", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    (used,) = read_json(tmp_path / "use" / "generators_source.json")["sources"]
    assert used["discovery_run"] == str(discovery) and used["discovery_task"] == "so2_discovery"
    assert used["discovery_config_sha256"] == hashlib.sha256(b"task: so2_discovery\n").hexdigest()
    assert used["discovery_metrics"] == {"generator_cos_sw": 0.999} and used["shape"] == [28, 28]
    assert used["file_sha256"] == hashlib.sha256((discovery / "generators.pt").read_bytes()).hexdigest()
    proc = lconv(*common, f"generators={tmp_path}/small.pt", f"paths.output_dir={tmp_path}/bad", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "acts on signals of shape [7, 7] (49 values); this model needs 784" in proc.stderr
