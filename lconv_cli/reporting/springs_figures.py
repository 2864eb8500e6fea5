"""LieConv paper Figures 6–8 and a results table from finished ``lieconv_springs`` runs.

- ``<out>_trajectories``: one test system's paths, truth against each model (Fig. 6);
- ``<out>_momentum``: linear and angular momentum drift along the long rollouts, per model and for
  the ground-truth integrator (Fig. 7 left/middle);
- ``<out>_errors``: relative state error and energy error along the rollouts (Fig. 7 right);
- ``<out>.md`` / ``.csv``: every metric of every run;
- ``<out>_data_scaling`` (with ``sizes`` folders): test rollout MSE against the number of training
  systems, mean and spread over seeds, per model (Fig. 8).

Curves are medians over the evaluated systems (``rollout_curves.json`` of each run).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from omegaconf import OmegaConf

from lconv_cli.errors import UserError
from lconv_cli.reporting.figures import save_paper_figure
from lconv_cli.reporting.lieconv_table import write_rows
from lconv_cli.runner.record import CONFIG_FILE, METRICS_FILE

CURVES_FILE = "rollout_curves.json"
TABLE_COLUMNS = (
    "rollout_mse",
    "long_rollout_rel_err",
    "energy_rel_err",
    "linear_momentum_drift",
    "true_linear_momentum_drift",
    "linear_drift_ratio",
    "angular_momentum_drift",
    "true_angular_momentum_drift",
    "angular_drift_ratio",
    "linear_momentum_rate",
    "angular_momentum_rate",
    "true_energy_rel_err",
    "num_train",
    "num_params",
    "train_seconds",
)


def _floor(values: list[float]) -> list[float]:
    """Zeros (exact conservation) drawn at the bottom of a log axis instead of vanishing."""
    return [max(v, 1e-18) for v in values]


def load_run(run_dir: Path) -> tuple[dict, dict, dict | None]:
    """(resolved config, metrics, rollout curves or None) of one finished lieconv_springs run."""
    run_dir = Path(run_dir)
    for name in (METRICS_FILE, CONFIG_FILE):
        if not (run_dir / name).is_file():
            raise UserError(f"{run_dir} has no {name}; is it a finished lconv run directory?")
    record = json.loads((run_dir / METRICS_FILE).read_text())
    config = OmegaConf.to_container(OmegaConf.load(run_dir / CONFIG_FILE), resolve=False)
    if config.get("task") != "lieconv_springs" or record.get("status") != "ok":
        raise UserError(f"{run_dir} is not a finished lieconv_springs run")
    curves_path = run_dir / CURVES_FILE
    curves = json.loads(curves_path.read_text()) if curves_path.is_file() else None
    return config, record["metrics"], curves


def _label(config: dict) -> str:
    name = config["model"]["name"]
    return f"HLieResNet({config['group']})" if name == "hlieresnet" else name.upper()


def trajectories_figure(runs: dict[str, tuple], out: Path) -> list[Path]:
    with_curves = {label: run[2] for label, run in runs.items() if run[2] is not None}
    fig, axes = plt.subplots(1, len(with_curves), figsize=(4 * len(with_curves), 4), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, curves) in zip(axes[0], with_curves.items()):
        true, predicted = curves["example"]["true"], curves["example"]["predicted"]
        for i in range(len(true[0])):
            c = colours[i % len(colours)]
            ax.plot([s[i][0] for s in true], [s[i][1] for s in true], color=c, lw=1)
            ax.plot([s[i][0] for s in predicted], [s[i][1] for s in predicted], color=c, lw=1, ls="--")
        ax.set(aspect="equal", title=f"{label} (dashed) vs truth", xlabel="x", ylabel="y")
    return save_paper_figure(fig, out)


def _curves_figure(
    runs: dict[str, tuple], out: Path, panels: list[tuple[str, str, str]], truth_keys: set[str]
) -> list[Path]:
    """One log-scale panel per (curve key, y label, title): each run's median curve from the first
    step on, plus the ground truth's for the keys in ``truth_keys``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8))
    with_curves = [(label, run[2]) for label, run in runs.items() if run[2] is not None]
    for ax, (key, ylabel, title) in zip(axes, panels):
        for label, curves in with_curves:
            ax.plot(curves["times"][1:], _floor(curves["model"][key][1:]), label=label)
        if with_curves and key in truth_keys:
            truth = with_curves[-1][1]
            ax.plot(truth["times"][1:], _floor(truth["truth"][key][1:]), color="k", ls=":", label="ground truth (RK4)")
        ax.set(yscale="log", xlabel="time", ylabel=ylabel, title=title)
    axes[-1].legend(fontsize=8)
    return save_paper_figure(fig, out)


def momentum_figure(runs: dict[str, tuple], out: Path) -> list[Path]:
    """Fig. 7 left/middle: linear and angular momentum drift along the rollouts."""
    panels = [
        ("linear", "relative drift (median)", "linear momentum"),
        ("angular", "relative drift (median)", "angular momentum"),
    ]
    return _curves_figure(runs, out, panels, {"linear", "angular"})


def errors_figure(runs: dict[str, tuple], out: Path) -> list[Path]:
    """Fig. 7 right: relative state error and energy error along the rollouts."""
    panels = [
        ("state", "‖ẑ − z‖ / (‖ẑ‖ + ‖z‖)", "rollout error (median)"),
        ("energy", "relative error of the true energy", "energy error (median)"),
    ]
    return _curves_figure(runs, out, panels, {"energy"})


def write_table(runs: dict[str, tuple], out: Path) -> list[Path]:
    """Every metric of every run (``TABLE_COLUMNS``) as markdown and CSV."""
    rows = [
        {"model": label, **{c: metrics.get(c, "") for c in TABLE_COLUMNS}} for label, (_, metrics, _) in runs.items()
    ]
    return write_rows(rows, out, digits=3)


def data_scaling_figure(folders: list[Path], out: Path) -> list[Path]:
    """Test rollout MSE against num_train per model, from every lieconv_springs run under ``folders``."""
    points: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for folder in folders:
        for metrics_path in sorted(Path(folder).rglob(METRICS_FILE)):
            try:
                config, metrics, _ = load_run(metrics_path.parent)
            except UserError:
                continue
            points[_label(config)][int(metrics["num_train"])].append(float(metrics["rollout_mse"]))
    if not points:
        raise UserError(f"no finished lieconv_springs runs under {', '.join(map(str, folders))}")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    summary = {}
    for label, by_size in sorted(points.items()):
        sizes = sorted(by_size)
        means = [sum(by_size[n]) / len(by_size[n]) for n in sizes]
        spread = [
            math.sqrt(sum((v - m) ** 2 for v in by_size[n]) / max(1, len(by_size[n]) - 1)) for n, m in zip(sizes, means)
        ]
        ax.errorbar(sizes, means, yerr=spread, marker="o", capsize=3, label=label)
        summary[label] = {
            str(n): {"mean": m, "std": s, "seeds": len(by_size[n])} for n, m, s in zip(sizes, means, spread)
        }
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training systems N",
        ylabel="test rollout MSE",
        title="Data scaling (mean ± std over seeds)",
    )
    ax.legend(fontsize=8)
    return save_paper_figure(fig, out, summary)


def springs_figures(runs: dict[str, Path], out: Path, sizes: list[Path] | None = None) -> list[Path]:
    """Every springs figure and the table; ``runs`` maps labels to run directories."""
    loaded = {label: load_run(path) for label, path in runs.items()}
    out = Path(out)
    paths = write_table(loaded, out)
    if any(run[2] is not None for run in loaded.values()):
        paths += trajectories_figure(loaded, out.with_name(out.name + "_trajectories"))
        paths += momentum_figure(loaded, out.with_name(out.name + "_momentum"))
        paths += errors_figure(loaded, out.with_name(out.name + "_errors"))
    if sizes:
        paths += data_scaling_figure(sizes, out.with_name(out.name + "_data_scaling"))
    return paths
