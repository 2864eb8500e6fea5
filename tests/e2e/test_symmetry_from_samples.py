"""symmetry_from_samples from the CLI: both methods, a user's own samples, and bad input."""

import numpy as np
import torch

from lconv_cli.data.point_clouds import point_cloud
from tests.helpers import SMOKE, lconv, read_json

COMMON = ("run", "symmetry_from_samples", *SMOKE)


def test_the_density_method_finds_and_names_the_lorentz_algebra(tmp_path):
    proc = lconv(
        *COMMON, "data.distribution=lorentz", "data.num_train=50000", f"paths.output_dir={tmp_path}/d", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "d" / "metrics.json")["metrics"]
    assert metrics["discovered_dim"] == 6 and metrics["subspace_similarity"] > 0.999
    assert metrics["name_correct"] == 1.0 and metrics["success"] == 1.0 and metrics["test_continuity"] < 1e-2
    record = read_json(tmp_path / "d" / "algebra.json")
    assert record["found"]["name"] == "sl(2,C) ≅ so(3,1)" and record["fields"]["method"] == "density_symmetry"
    assert (tmp_path / "d" / "figures" / "continuity_spectrum.png").is_file()


def test_liegan_trains_with_the_true_dimension_and_leaves_a_checkpoint(tmp_path):
    proc = lconv(*COMMON, "model=liegan", "data.distribution=sphere", f"paths.output_dir={tmp_path}/g", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "g" / "metrics.json")["metrics"]
    assert metrics["discovered_dim"] == 3 and metrics["train_steps"] == 60 and 0 <= metrics["subspace_similarity"] <= 1
    assert (tmp_path / "g" / "checkpoint.pt").is_file()
    assert read_json(tmp_path / "g" / "algebra.json")["fields"]["method"] == "liegan"


def test_a_users_samples_file_is_read_and_bad_input_is_one_line(tmp_path):
    samples = point_cloud("sphere", 0.1, 1.5).sample(3000, torch.Generator().manual_seed(0)).numpy()
    samples[7, 0] = np.nan
    np.savetxt(tmp_path / "mine.csv", samples, delimiter=",", header="x,y,z", comments="")
    proc = lconv(*COMMON, f"data.path={tmp_path}/mine.csv", f"paths.output_dir={tmp_path}/u", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "u" / "metrics.json")["metrics"]
    assert metrics["discovered_dim"] == 3 and metrics["subspace_similarity"] is None  # no known answer
    assert read_json(tmp_path / "u" / "algebra.json")["found"]["name"] == "su(2) ≅ so(3)"
    assert "1 rows with NaN or infinity dropped" in (tmp_path / "u" / "run.log").read_text()
    # bad input is one line and exit 2 (the other cases: tests/unit/data/test_point_clouds.py)
    proc = lconv(
        *COMMON, "model=liegan", f"data.path={tmp_path}/mine.csv", f"paths.output_dir={tmp_path}/bad", cwd=tmp_path
    )
    assert proc.returncode == 2 and "needs model.num_generators" in proc.stderr + proc.stdout, proc.stderr
