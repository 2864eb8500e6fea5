"""Smoke runs of every discovery experiment and model variant, and the discover-then-use loop."""

import math
from pathlib import Path

import pytest

from lconv_cli.reporting import paper_figures
from tests.helpers import SMOKE, lconv, read_json

SO2_KEYS = {"generator_cos_data", "generator_cos_sw", "fit_residual", "generator_scale", "train_seconds"}


def test_every_so2_variant_runs_and_reports_both_scores(tmp_path):
    variants = "generator,generator_t,recursive_angle,fixed_angle,lstsq"
    proc = lconv(
        "run", "-m", *SMOKE, f"model={variants}", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    for num, name in enumerate(variants.split(",")):
        record = read_json(tmp_path / "sweep" / str(num) / "metrics.json")
        assert record["status"] == "ok", (name, record.get("error"))
        metrics = record["metrics"]
        assert set(metrics) >= SO2_KEYS, name
        assert 0.0 <= metrics["generator_cos_data"] <= 1.0 and metrics["fit_residual"] >= 0.0
        assert metrics["generator_cos_data"] == metrics["generator_cos_sw"]  # swi data: the data's generator is L_SW
        assert (tmp_path / "sweep" / str(num) / "generators.pt").is_file()
    lstsq = read_json(tmp_path / "sweep" / "4" / "metrics.json")["metrics"]
    assert lstsq["generator_cos_data"] > 0.999  # closed form + 10 polish steps on 1024 group pairs


def test_paper_conventions_score_bilinear_data_two_ways(tmp_path):
    proc = lconv(
        "run",
        *SMOKE,
        "model=lstsq",
        "conventions=paper",
        "model.polish_iters=0",
        f"paths.output_dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "rotation: bilinear" in config and "conventions: paper" in config
    metrics = read_json(tmp_path / "run" / "metrics.json")["metrics"]
    assert metrics["generator_cos_data"] != metrics["generator_cos_sw"]
    assert metrics["fit_residual"] > 0.05  # no generator reproduces bilinear resampling


@pytest.mark.slow  # make reproduce (test_makefile.py, slow too) builds the same figure (CI time budget)
def test_figure4_composes_paper_runs_and_refuses_mixed_ones(tmp_path):
    for model in ("fixed_angle", "lstsq"):
        args = (
            *SMOKE,
            f"model={model}",
            "conventions=paper",
            "data.theta_range_deg=[18,18]",
            f"paths.output_dir={tmp_path / model}",
        )
        assert lconv("run", *args, cwd=tmp_path).returncode == 0
    runs = ["--run", f"fixed={tmp_path / 'fixed_angle'}", "--run", f"lstsq={tmp_path / 'lstsq'}"]
    assert paper_figures.main(["so2", *runs, "--out", str(tmp_path / "fig" / "f4")]) == 0
    assert (tmp_path / "fig" / "f4.pdf").is_file() and (tmp_path / "fig" / "f4.png").is_file()
    panels = read_json(tmp_path / "fig" / "f4.metrics.json")
    lstsq = read_json(tmp_path / "lstsq" / "metrics.json")["metrics"]
    assert list(panels) == ["fixed", "lstsq"] and panels["lstsq"]["generator_cos_sw"] == lstsq["generator_cos_sw"]
    assert lconv("run", *SMOKE, "model=lstsq", f"paths.output_dir={tmp_path / 'centred'}", cwd=tmp_path).returncode == 0
    mixed = [*runs, "--run", f"ours={tmp_path / 'centred'}", "--out", str(tmp_path / "bad")]
    assert paper_figures.main(["so2", *mixed]) == 2
    assert paper_figures.main(["so2", "--run", f"x={tmp_path}", "--out", str(tmp_path / "bad")]) == 2


def test_fixed_angle_needs_one_angle(tmp_path):
    proc = lconv(
        "run",
        *SMOKE,
        "model=fixed_angle",
        "data.theta_range_deg=[0,45]",
        f"paths.output_dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "theta_range_deg=[18,18]" in proc.stderr and "Traceback" not in proc.stderr


def test_discovered_generator_feeds_a_fixed_lconv_layer(tmp_path):
    found = tmp_path / "found"
    assert (
        lconv(
            "run", *SMOKE, "model=lstsq", "model.polish_iters=0", f"paths.output_dir={found}", cwd=tmp_path
        ).returncode
        == 0
    )
    source = read_json(found / "metrics.json")["metrics"]
    proc = lconv(
        "run",
        *SMOKE,
        "model=recursive_angle",
        f"generators={found}",
        f"paths.output_dir={tmp_path / 'use'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    used = read_json(tmp_path / "use" / "metrics.json")["metrics"]
    # L stays the loaded generator: same score as the run that found it; only W and the MLP train.
    assert used["generator_cos_data"] == pytest.approx(source["generator_cos_data"], abs=1e-6)
    assert used["num_params"] == 10 * 10 + 10 * 5 + 5 + 5 + 1
    assert "fixed generator from" in (tmp_path / "use" / "run.log").read_text()


def test_translation_and_algebra_smoke_runs(tmp_path):
    proc = lconv("run", "translation_1d", *SMOKE, f"paths.output_dir={tmp_path / 'tr'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "tr" / "metrics.json")["metrics"]
    assert metrics["true_n8"] == pytest.approx(0.7721, abs=1e-4) and metrics["true_n16"] == pytest.approx(
        0.9314, abs=1e-4
    )
    assert 0.0 <= metrics["generator_cos"] <= 1.0
    assert (tmp_path / "tr" / "figures" / "translation_shifts.pdf").is_file()
    proc = lconv(
        "run",
        "algebra_discovery",
        *SMOKE,
        "trainer.max_steps=400",
        "model.num_generators=4",
        f"paths.output_dir={tmp_path / 'alg'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "alg" / "metrics.json")["metrics"]
    assert metrics["true_dim"] == 3 and metrics["discovered_dim"] in (0, 1, 2, 3, 4)
    assert set(metrics) >= {"subspace_similarity", "closure_error", "killing_positive", "success"}
    assert math.isfinite(metrics["final_train_loss"])


def test_a_users_invariant_is_discovered_and_named(tmp_path):
    invariants = Path(__file__).resolve().parents[1] / "user_invariants.py"
    common = ("run", "algebra_discovery", *SMOKE, "data.input_dim=4")
    proc = lconv(
        *common,
        f"data.invariant={invariants}:minkowski_interval",
        f"paths.output_dir={tmp_path / 'mine'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "mine" / "metrics.json")["metrics"]
    assert metrics["discovered_dim"] == 6 and metrics["success"] == 1.0
    assert metrics["subspace_similarity"] is None  # no known answer: NaN, written as null
    record = read_json(tmp_path / "mine" / "algebra.json")
    assert record["found"]["name"] == "sl(2,C) ≅ so(3,1)" and record["expected"] is None
    assert record["found"]["killing_signature"] == [3, 3, 0] and len(record["structure_constants"]) == 6
    # a broken invariant is one line and exit 2 (every other bad input: tests/unit/lie/test_algebras.py)
    proc = lconv(
        *common, f"data.invariant={invariants}:wrong_shape", f"paths.output_dir={tmp_path / 'bad'}", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "must return a tensor of shape (N,) or (N, m)" in proc.stderr + proc.stdout


def test_the_symmetry_of_the_shipped_example_data_is_found(tmp_path):
    """The docs' worked example: tests/data/lorentz_points.csv, y = sin(m²/3) of four-vectors."""
    example = Path(__file__).resolve().parents[1] / "data" / "lorentz_points.csv"
    proc = lconv(
        "run",
        "algebra_discovery",
        *SMOKE,
        "data=file",
        f"data.path={example}",
        "data.truth=so1_3",
        "data.fit_steps=1500",
        f"paths.output_dir={tmp_path / 'data'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "data" / "metrics.json")["metrics"]
    assert metrics["fit_r2_test"] > 0.98 and metrics["rows_used"] == 1500 and metrics["rows_dropped"] == 0
    assert metrics["discovered_dim"] == 6 and metrics["subspace_similarity"] > 0.999
    assert metrics["name_correct"] == 1.0 and metrics["success"] == 1.0
    assert read_json(tmp_path / "data" / "algebra.json")["found"]["name"] == "sl(2,C) ≅ so(3,1)"


def test_special_conformal_symmetry_is_found_and_named_by_its_fields(tmp_path):
    proc = lconv(
        "run", "algebra_discovery", *SMOKE, "data.algebra=conformal2", f"paths.output_dir={tmp_path}/c", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(tmp_path / "c" / "metrics.json")["metrics"]
    assert metrics["discovered_dim"] == 6 and metrics["success"] == 1.0 and metrics["special_conformal_fields"] == 2
    record = read_json(tmp_path / "c" / "algebra.json")
    assert record["found"]["name"] == "sl(2,C) ≅ so(3,1)"
    assert record["fields"]["conformal_families_in_span"]["special conformal"] == 2
    assert (tmp_path / "c" / "figures" / "field_spectrum.png").is_file()
