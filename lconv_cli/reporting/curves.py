"""Learning-curve figures of epoch-based experiments."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from lconv_cli.train.trainer import TrainResult


def plot_learning_curve(
    result: TrainResult,
    steps_per_epoch: int,
    best_epoch: float,
    title: str,
    metric: str = "val_accuracy",
    label: str = "validation accuracy",
    log_scale: bool = False,
) -> Figure:
    """Training loss per step (left, log scale) and the monitored ``metric`` per epoch (right), the
    kept epoch ``best_epoch`` marked by a dashed line; the x axes are in epochs (step / steps_per_epoch)."""
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot([(i + 1) / steps_per_epoch for i in range(len(result.losses))], result.losses, lw=0.5)
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log", title=title)
    points = [(step / steps_per_epoch, values[metric]) for step, _, values in result.monitored if metric in values]
    if points:
        ax_val.plot(*zip(*points), marker="o")
        ax_val.axvline(best_epoch, color="gray", ls="--", label=f"kept: epoch {best_epoch:g}")
        ax_val.legend()
    ax_val.set(xlabel="epoch", ylabel=label, yscale="log" if log_scale else "linear")
    fig.tight_layout()
    return fig
