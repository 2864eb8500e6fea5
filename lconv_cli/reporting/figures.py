"""Saving figures into the run record (PNG, and PDF for paper figures) and to the tracker."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from lconv_cli.reporting import tracking


def show_matrix(ax, matrix: torch.Tensor, title: str | None = None, fontsize: int = 9) -> None:
    """Draw a (real) matrix on ``ax`` with a symmetric red-blue scale, no ticks, optional title."""
    mat = matrix.detach().double().cpu()
    limit = float(mat.abs().max()) or 1.0
    ax.imshow(mat.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    if title is not None:
        ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])


def scaled_to_match(matrix: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``matrix`` scaled (sign included) to best match ``like`` in the Frobenius sense (float64, CPU)."""
    matrix, like = matrix.detach().double().cpu(), like.detach().double().cpu()
    return matrix * float((matrix * like).sum()) / max(float((matrix * matrix).sum()), 1e-300)


def save_figure(fig: Figure, out_dir: Path, name: str, pdf: bool = False) -> list[Path]:
    """Write ``<name>.png`` (and ``<name>.pdf`` if ``pdf``) to ``out_dir/figures``; log the PNG to the tracker."""
    fig_dir = Path(out_dir) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = [fig_dir / f"{name}.png"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    if pdf:
        paths.append(fig_dir / f"{name}.pdf")
        fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    tracking.log_image(name, paths[0])
    return paths


def save_paper_figure(fig: Figure, out: Path, summary: dict | None = None) -> list[Path]:
    """Write ``out``.pdf and ``out``.png (and ``out``.metrics.json from ``summary``) for a composed paper figure."""
    import json

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    paths = [out.with_suffix(".pdf"), out.with_suffix(".png")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    if summary is not None:
        out.with_suffix(".metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    return paths
