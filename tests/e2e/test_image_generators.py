"""image_generators on fake MNIST: it writes a generators file in the scrambled classifier's pixel order (checked
against the permutation the classifier records), and image_classification uses it (lconv_discovered, one file or
several) beside the true generators (lconv_oracle)."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.data.generators_file import load_generators
from lconv_cli.data.pixel_pairs import true_generators
from lconv_cli.lie import generator_cos
from tests.fake_datasets import fake_idx_dataset
from tests.helpers import lconv, read_json


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    """Noise MNIST with enough training images for 2 generators' unconstrained fit (2 · 784 unknowns a row)."""
    return fake_idx_dataset(tmp_path_factory.mktemp("data"), num_train=1700, num_test=100)


def test_discovered_generators_feed_the_classifier_and_its_record_names_them(fake_root, tmp_path):
    env = {"LCONV_DATA": str(fake_root)}
    common = ("scale=smoke", "logger=none", "data.verify=false")
    found = tmp_path / "found"
    proc = lconv(
        "run", "image_generators", "data.transforms=[rotation,tx]", "data.scrambled=true", "data.num_pairs=1700", *common,
        f"paths.output_dir={found}", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(found / "metrics.json")["metrics"]
    assert metrics["cos_rotation"] > 0.9 and metrics["cos_tx"] > 0.9, metrics
    assert metrics["antisymmetric_rotation"] == 1.0 and metrics["truth_test_residual"] < 1e-10
    assert metrics["test_residual"] < 0.5
    saved = load_generators(found, dim=784, count=2)
    assert saved["names"] == ["rotation", "tx"] and saved["source"]["task"] == "image_generators"
    assert (found / "figures" / "generator_actions.png").is_file()

    for model in ("lconv_discovered", "lconv_oracle"):
        proc = lconv(
            "run", "image_classification", f"model={model}", "model.fixed_transforms=[rotation,tx]",
            "variant=rotated_scrambled", f"generators={found}", *common, f"paths.output_dir={tmp_path / model}",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        # (2 + 1)·24 weights + (2 + 1)·24 biases + a 24·784 → 10 head
        assert read_json(tmp_path / model / "metrics.json")["metrics"]["num_params"] == 188_314
    # the discovered generators act in the classifier's pixel order: close to P L Pᵀ for the permutation P it recorded
    permutation = torch.load(tmp_path / "lconv_discovered" / "variant.pt")["permutation"]
    truth = true_generators(["rotation", "tx"], 28, permutation)
    assert min(generator_cos(mine, true) for mine, true in zip(saved["generators"], truth)) > 0.9
    (used,) = read_json(tmp_path / "lconv_discovered" / "generators_source.json")["sources"]
    assert used["discovery_task"] == "image_generators" and used["names"] == ["rotation", "tx"]
    assert used["discovery_metrics"]["cos_rotation"] == pytest.approx(metrics["cos_rotation"])
    assert not (tmp_path / "lconv_oracle" / "generators_source.json").exists()

    # several discovery runs: their generators concatenated, each named in the record
    proc = lconv(
        "run", "image_classification", "model=lconv_discovered", "variant=rotated_scrambled",
        f"generators=[{found},{found / 'generators.pt'}]", *common, f"paths.output_dir={tmp_path / 'both'}",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert read_json(tmp_path / "both" / "metrics.json")["metrics"]["num_params"] == 188_410  # 4 generators
    sources = read_json(tmp_path / "both" / "generators_source.json")["sources"]
    assert [s["discovery_run"] for s in sources] == [str(found)] * 2


def test_an_unknown_transformation_or_model_is_one_line(fake_root, tmp_path):
    proc = lconv(
        "run", "image_generators", "data.transforms=[rotation,shear]", "scale=smoke", "data.verify=false",
        f"paths.output_dir={tmp_path}/run", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "data.transforms must be one of tx, ty, rotation, scale; got 'shear'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = lconv(
        "run", "image_generators", "model=lconv", "scale=smoke", f"paths.output_dir={tmp_path}/other",
        cwd=tmp_path, env={"LCONV_DATA": str(fake_root)},
    )  # fmt: skip
    assert proc.returncode == 2 and "model=lconv: image_generators takes model=pixel_fit" in proc.stderr
