"""Accuracy per training sample from run records: cells, margins, the table and the figure files."""

import json

import pytest
from omegaconf import OmegaConf

from lconv_cli.reporting.efficiency_table import collect_cells, margins, markdown_table, write_efficiency_table


def _run(root, name, model, size, seed, accuracy, status="ok"):
    run_dir = root / name
    run_dir.mkdir(parents=True)
    config = {"dataset": {"name": "mnist"}, "model": {"name": model}, "data": {"train_subset": round(size / 0.9)}}
    OmegaConf.save(OmegaConf.create(config), run_dir / "config.yaml")
    metrics = {"test_accuracy": accuracy, "num_params": 188_410, "num_train": size} if status == "ok" else {}
    record = {"experiment": "image_classification", "status": status, "seed": seed, "metrics": metrics}
    (run_dir / "metrics.json").write_text(json.dumps(record))


def test_cells_margins_and_files(tmp_path):
    runs = tmp_path / "sweep"
    for seed, (mine, true, cnn) in enumerate([(0.70, 0.69, 0.60), (0.72, 0.70, 0.62)]):
        _run(runs, f"d{seed}", "lconv_discovered", 1000, seed, mine)
        _run(runs, f"o{seed}", "lconv_oracle", 1000, seed, true)
        _run(runs, f"c{seed}", "cnn", 1000, seed, cnn)
    _run(runs, "failed", "cnn", 1000, 2, 0.0, status="failed")
    cells = collect_cells(sorted(p for p in runs.iterdir()))
    assert [(c.model, c.num_train, len(c.accuracy), c.failed) for c in cells] == [
        ("lconv_discovered", 1000, 2, 0),
        ("lconv_oracle", 1000, 2, 0),
        ("cnn", 1000, 2, 1),
    ]
    to_true, to_other, other = margins(cells, "mnist", 1000)
    assert to_true == pytest.approx(1.5) and to_other == pytest.approx(10.0) and other == "cnn"
    table = markdown_table(cells)
    assert "| mnist | 1,000 | 0.7100 ± 0.0141 (n=2)" in table and "+1.50 | +10.00 (cnn) |" in table
    assert "(1 failed)" in table
    paths = write_efficiency_table([runs], tmp_path / "out" / "table")
    assert [p.suffix for p in paths] == [".md", ".csv", ".pdf", ".png"] and all(p.is_file() for p in paths)
