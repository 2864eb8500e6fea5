"""Saving figures into the run record (PNG, and PDF for paper figures) and to the tracker."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lconv_cli import tracking  # noqa: E402


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
