"""Accuracy per training sample: test accuracy against training-set size, from image_classification runs.

Each run (``metrics.json`` + resolved ``config.yaml``) is one (dataset, model, training-set size, seed);
the size is the run's ``num_train`` metric (images trained on, validation carved out). Groups give the
mean ± sample standard deviation of the test accuracy over seeds. Written as a markdown table (one row
per dataset and size, one column per model, then the margins of the discovered-generator L-conv over
the true generators and over the best of the other models), a CSV of every group, and a figure:
accuracy against samples, log x axis, one panel per dataset.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
from omegaconf import OmegaConf

from lconv_cli.reporting.image_table import DATASET_ORDER, find_runs, write_table_files
from lconv_cli.runner.record import CONFIG_FILE, METRICS_FILE

MODEL_ORDER = ("lconv_discovered", "lconv_oracle", "lconv_dense", "lconv", "cnn", "fc")
DISCOVERED, ORACLE = "lconv_discovered", "lconv_oracle"


@dataclass
class Cell:
    """The runs of one (dataset, model, training-set size)."""

    dataset: str
    model: str
    num_train: int
    accuracy: list[float] = field(default_factory=list)
    num_params: int = 0
    failed: int = 0

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracy) if self.accuracy else float("nan")

    @property
    def std(self) -> float:
        return statistics.stdev(self.accuracy) if len(self.accuracy) > 1 else 0.0


def planned_size(config) -> int:
    """The training images a run was set to use: ``data.train_subset`` less its validation share
    (as :func:`lconv_cli.data.image_variants.make_image_splits` carves it); 0 when not set."""
    subset = int(config.data.get("train_subset") or 0)
    return subset - round(float(config.data.get("val_fraction", 0.1)) * subset)


def collect_cells(run_dirs: list[Path]) -> list[Cell]:
    """Cells ordered by dataset, size, then model (MODEL_ORDER; others after). Failed runs are counted
    in the cell their config names (:func:`planned_size`, as they wrote no ``num_train``)."""
    cells: dict[tuple[str, str, int], Cell] = {}
    for run_dir in run_dirs:
        record = json.loads((run_dir / METRICS_FILE).read_text())
        config = OmegaConf.load(run_dir / CONFIG_FILE)
        metrics = record.get("metrics") or {}
        size = int(metrics["num_train"]) if "num_train" in metrics else planned_size(config)
        key = (str(config.dataset.name), str(config.model.name), size)
        cell = cells.setdefault(key, Cell(*key))
        if record["status"] != "ok":
            cell.failed += 1
            continue
        cell.accuracy.append(float(metrics["test_accuracy"]))
        cell.num_params = int(metrics["num_params"])
    dataset_rank = {d: i for i, d in enumerate(DATASET_ORDER)}
    model_rank = {m: i for i, m in enumerate(MODEL_ORDER)}
    return sorted(
        cells.values(),
        key=lambda c: (dataset_rank.get(c.dataset, 99), c.dataset, c.num_train, model_rank.get(c.model, 99), c.model),
    )


def margins(cells: list[Cell], dataset: str, size: int) -> tuple[float, float, str]:
    """(discovered − oracle, discovered − best other model, that model) in accuracy points ×100; NaN if absent."""
    here = {c.model: c for c in cells if c.dataset == dataset and c.num_train == size and c.accuracy}
    if DISCOVERED not in here:
        return float("nan"), float("nan"), ""
    mine = here[DISCOVERED].mean
    versus_oracle = 100 * (mine - here[ORACLE].mean) if ORACLE in here else float("nan")
    others = [c for name, c in here.items() if name not in (DISCOVERED, ORACLE)]
    if not others:
        return versus_oracle, float("nan"), ""
    best = max(others, key=lambda c: c.mean)
    return versus_oracle, 100 * (mine - best.mean), best.model


def markdown_table(cells: list[Cell]) -> str:
    models = [m for m in MODEL_ORDER if any(c.model == m for c in cells)]
    models += sorted({c.model for c in cells} - set(models))
    params = {m: next((c.num_params for c in cells if c.model == m and c.num_params), 0) for m in models}
    header = " | ".join(f"{m} ({params[m] / 1e3:,.0f}k)" for m in models)
    lines = [
        f"| dataset | train images | {header} | discovered − true (points) | discovered − best other (points) |",
        "| --- | ---: | " + " | ".join("---:" for _ in models) + " | ---: | ---: |",
    ]
    for dataset in dict.fromkeys(c.dataset for c in cells):
        for size in dict.fromkeys(c.num_train for c in cells if c.dataset == dataset):
            row = []
            for model in models:
                cell = next((c for c in cells if (c.dataset, c.model, c.num_train) == (dataset, model, size)), None)
                if cell is None or not cell.accuracy:
                    row.append("—" if cell is None else f"failed ×{cell.failed}")
                    continue
                failed = f" ({cell.failed} failed)" if cell.failed else ""
                row.append(f"{cell.mean:.4f} ± {cell.std:.4f} (n={len(cell.accuracy)}){failed}")
            oracle_gap, other_gap, other = margins(cells, dataset, size)
            lines.append(
                f"| {dataset} | {size:,} | " + " | ".join(row) + f" | {oracle_gap:+.2f} | {other_gap:+.2f} ({other}) |"
            )
    return "\n".join(lines) + "\n"


def accuracy_figure(cells: list[Cell]):
    """Test accuracy against training images (log x), one panel per dataset, error bars ± std over seeds."""
    datasets = list(dict.fromkeys(c.dataset for c in cells))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        mine = [c for c in cells if c.dataset == dataset and c.accuracy]
        for model in dict.fromkeys(c.model for c in mine):
            line = sorted((c for c in mine if c.model == model), key=lambda c: c.num_train)
            style = {"lw": 2.5} if model == DISCOVERED else {}
            ax.errorbar(
                [c.num_train for c in line],
                [c.mean for c in line],
                yerr=[c.std for c in line],
                marker="o",
                capsize=3,
                label=f"{model} ({line[0].num_params / 1e3:,.0f}k)",
                **style,
            )
        ax.set_xscale("log")
        sizes = sorted({c.num_train for c in mine})
        ax.set_xticks(sizes, [f"{size:,}" for size in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(title=f"{dataset}, rotated + scrambled", xlabel="training images", ylabel="test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def write_efficiency_table(roots: list[Path], out: Path) -> list[Path]:
    """Write ``out``.md, ``out``.csv, ``out``.pdf and ``out``.png from the runs under ``roots``."""
    cells = collect_cells(find_runs(roots))
    rows = [
        {
            "dataset": c.dataset,
            "model": c.model,
            "num_train": c.num_train,
            "num_params": c.num_params,
            "seeds": len(c.accuracy),
            "failed": c.failed,
            "test_accuracy_mean": c.mean,
            "test_accuracy_std": c.std,
        }
        for c in cells
    ]
    return write_table_files(out, markdown_table(cells), rows, accuracy_figure(cells))
