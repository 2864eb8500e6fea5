"""The neural symmetry detection paper's Figures 2–3 from finished latent_symmetry runs.

One column per run: the learned field on the image over the true one, the learned field on the
latent patch (the paper's "latent flow"), and the histogram of the aligned predicted t over the
true t. ``<out>.metrics.json`` holds each run's generator_cos, t_r2, t_w1 and scaling_component.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from omegaconf import OmegaConf

from lconv_cli.data.symmetry_pairs import pixel_points
from lconv_cli.errors import UserError
from lconv_cli.lie.flows import field_velocity, grid_points
from lconv_cli.reporting.figures import save_paper_figure

SUMMARY_KEYS = ("generator_cos", "scaling_component", "t_r2", "t_w1", "recon_mse")


def _latent_record(run_dir: Path) -> tuple[dict, dict, dict]:
    """(predictions, metrics, resolved config) of one finished latent_symmetry run."""
    for name in ("metrics.json", "config.yaml", "predictions.pt"):
        if not (run_dir / name).is_file():
            raise UserError(f"{run_dir} has no {name}; is it a finished latent_symmetry run directory?")
    record = json.loads((run_dir / "metrics.json").read_text())
    if record.get("experiment") != "latent_symmetry" or record.get("status") != "ok":
        raise UserError(f"{run_dir} is not a finished latent_symmetry run")
    predictions = torch.load(run_dir / "predictions.pt", map_location="cpu", weights_only=False)
    return predictions, record["metrics"], OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))


def _quiver(ax, coeffs: torch.Tensor, points: torch.Tensor, color: str, label: str | None = None) -> None:
    v = field_velocity(coeffs, points)
    ax.quiver(points[:, 0], points[:, 1], v[:, 0], v[:, 1], angles="xy", color=color, label=label, alpha=0.8)


def latent_figure(runs: dict[str, Path], out: Path) -> list[Path]:
    """Write ``out``.pdf, ``out``.png and ``out``.metrics.json for the given runs (label → run dir)."""
    records = {label: _latent_record(Path(path)) for label, path in runs.items()}
    fig, axes = plt.subplots(3, len(records), figsize=(3.4 * len(records), 10), squeeze=False)
    image_points = grid_points(torch.linspace(-1, 1, 10, dtype=torch.float64))
    for col, (label, (pred, metrics, config)) in enumerate(records.items()):
        top, middle, bottom = axes[:, col]
        _quiver(top, pred["true_alpha"], image_points, "C0", "true")
        _quiver(top, pred["alpha"], image_points, "C3", "learned")
        top.set_title(
            f"{label}: |cos| {metrics['generator_cos']:.3f}\n({config['dataset']['name']}, {pred['basis']} basis)",
            fontsize=9,
        )
        top.legend(fontsize=7, loc="lower right")
        patch = int(config["model"]["patch"])
        _quiver(middle, pred["alpha"], pixel_points(patch), "C3")
        middle.set_title(f"latent flow ({patch}×{patch} patch)", fontsize=9)
        for ax in (top, middle):
            ax.set(xlim=(-1.15, 1.15), ylim=(1.15, -1.15), aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
        true, aligned = pred["t_true"], pred["t_aligned"]
        bins = torch.linspace(float(min(true.min(), aligned.min())), float(max(true.max(), aligned.max())), 50).numpy()
        bottom.hist(true.numpy(), bins=bins, alpha=0.5, density=True, label="true t")
        bottom.hist(aligned.numpy(), bins=bins, alpha=0.5, density=True, label="predicted (aligned)")
        bottom.set_title(
            f"{config['data']['distribution']} t: R² {metrics['t_r2']:.3f}, W1 {metrics['t_w1']:.3g}", fontsize=9
        )
        bottom.legend(fontsize=7)
    summary = {label: {k: metrics[k] for k in SUMMARY_KEYS} for label, (_, metrics, _) in records.items()}
    return save_paper_figure(fig, out, summary)
