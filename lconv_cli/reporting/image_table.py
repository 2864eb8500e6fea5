"""The image classification results table (L-conv SI D / slides Fig. 9) from finished runs.

Each image_classification run directory (``metrics.json`` + resolved ``config.yaml``) is one
(dataset, variant, model, seed). Runs are grouped by (dataset, variant, model); each group gives
mean ± sample standard deviation of the test accuracy over its seeds, its parameter count and
mean training time. Written as markdown, CSV and a grouped bar chart.
"""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from omegaconf import OmegaConf

from lconv_cli.errors import UserError
from lconv_cli.runner.record import CONFIG_FILE, METRICS_FILE

DATASET_ORDER = ("mnist", "fashion_mnist", "cifar10", "cifar100")
VARIANT_ORDER = ("plain", "rotated", "scrambled", "rotated_scrambled")
MODEL_ORDER = ("lconv", "lconv_official", "gcn", "cnn", "cnn_official", "fc", "fc_official")


@dataclass
class Group:
    """The runs of one (dataset, variant, model)."""

    dataset: str
    variant: str
    model: str
    seeds: list[int] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    num_params: int = 0
    failed: int = 0

    @staticmethod
    def _mean_std(values: list[float]) -> tuple[float, float]:
        if not values:
            return float("nan"), float("nan")
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    def row(self) -> dict[str, object]:
        test_mean, test_std = self._mean_std(self.test_accuracy)
        return {
            "dataset": self.dataset,
            "variant": self.variant,
            "model": self.model,
            "num_params": self.num_params,
            "seeds": len(self.test_accuracy),
            "failed": self.failed,
            "test_accuracy_mean": test_mean,
            "test_accuracy_std": test_std,
            "val_accuracy_mean": self._mean_std(self.val_accuracy)[0],
            "train_seconds_mean": self._mean_std(self.train_seconds)[0],
        }


def find_runs(roots: list[Path]) -> list[Path]:
    """Run directories (holding ``metrics.json``) of image_classification under ``roots``."""
    runs = []
    for root in roots:
        for metrics in sorted(Path(root).rglob(METRICS_FILE)):
            if json.loads(metrics.read_text()).get("experiment") == "image_classification":
                runs.append(metrics.parent)
    if not runs:
        raise UserError(f"no image_classification runs under {', '.join(map(str, roots))}")
    return runs


def collect_groups(run_dirs: list[Path]) -> list[Group]:
    """Groups ordered by dataset (MNIST → CIFAR100), variant (plain → rotated_scrambled), model (L-conv, CNN, FC; others after)."""
    groups: dict[tuple[str, str, str], Group] = {}
    for run_dir in run_dirs:
        record = json.loads((run_dir / METRICS_FILE).read_text())
        config = OmegaConf.load(run_dir / CONFIG_FILE)
        key = (str(config.dataset.name), str(config.variant.name), str(config.model.name))
        group = groups.setdefault(key, Group(*key))
        if record["status"] != "ok":
            group.failed += 1
            continue
        metrics = record["metrics"]
        group.seeds.append(int(record["seed"]))
        group.test_accuracy.append(float(metrics["test_accuracy"]))
        group.val_accuracy.append(float(metrics["val_accuracy"]))
        group.train_seconds.append(float(metrics["train_seconds"]))
        group.num_params = int(metrics["num_params"])
    dataset_rank = {d: i for i, d in enumerate(DATASET_ORDER)}
    variant_rank = {v: i for i, v in enumerate(VARIANT_ORDER)}
    model_rank = {m: i for i, m in enumerate(MODEL_ORDER)}
    return sorted(
        groups.values(),
        key=lambda g: (
            dataset_rank.get(g.dataset, 99),
            g.dataset,
            variant_rank.get(g.variant, 99),
            g.variant,
            model_rank.get(g.model, 99),
            g.model,
        ),
    )


def markdown_table(groups: list[Group]) -> str:
    lines = [
        "| dataset | variant | model | parameters | test accuracy (mean ± std) | seeds | val accuracy | train s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group in groups:
        r = group.row()
        failed = f" ({r['failed']} failed)" if r["failed"] else ""
        lines.append(
            f"| {r['dataset']} | {r['variant']} | {r['model']} | {r['num_params']:,} | "
            f"{r['test_accuracy_mean']:.4f} ± {r['test_accuracy_std']:.4f} | {r['seeds']}{failed} | "
            f"{r['val_accuracy_mean']:.4f} | {r['train_seconds_mean']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def bar_chart(groups: list[Group]):
    """One panel per dataset; bars per variant, one per model, error bars ± std over seeds."""
    datasets = list(dict.fromkeys(g.dataset for g in groups))
    models = list(dict.fromkeys(g.model for g in groups))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    width = 0.8 / len(models)
    for ax, dataset in zip(axes[0], datasets):
        mine = [g for g in groups if g.dataset == dataset]
        variants = list(dict.fromkeys(g.variant for g in mine))
        for m, model in enumerate(models):
            rows = [next((g.row() for g in mine if g.variant == v and g.model == model), None) for v in variants]
            xs = [i + (m - (len(models) - 1) / 2) * width for i in range(len(variants))]
            means = [r["test_accuracy_mean"] if r else float("nan") for r in rows]
            stds = [r["test_accuracy_std"] if r else 0.0 for r in rows]
            params = next((r["num_params"] for r in rows if r), 0)
            ax.bar(xs, means, width, yerr=stds, capsize=3, label=f"{model} ({params / 1e3:.0f}k)")
        finite = [g.row()["test_accuracy_mean"] for g in mine if g.test_accuracy]
        low = min(finite) if finite else 0.0
        ax.set_ylim(max(0.0, low - 0.05), 1.0)
        ax.set_xticks(range(len(variants)), [v.replace("_", "\n") for v in variants])
        ax.set(title=dataset, ylabel="test accuracy")
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def write_table_files(out: Path, markdown: str, rows: list[dict[str, object]], fig) -> list[Path]:
    """Write ``out``.md (``markdown``), ``out``.csv (``rows``, one dict per row) and ``out``.pdf / .png
    (``fig``, closed afterwards); returns the four paths."""
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_suffix(".md"), out.with_suffix(".csv"), out.with_suffix(".pdf"), out.with_suffix(".png")]
    paths[0].write_text(markdown)
    with open(paths[1], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for path in paths[2:]:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def write_image_table(roots: list[Path], out: Path) -> list[Path]:
    """Write ``out``.md, ``out``.csv, ``out``.pdf and ``out``.png from the runs under ``roots``."""
    groups = collect_groups(find_runs(roots))
    return write_table_files(out, markdown_table(groups), [g.row() for g in groups], bar_chart(groups))
