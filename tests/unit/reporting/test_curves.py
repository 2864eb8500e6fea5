"""The learning-curve figure shared by the epoch-based experiments."""

import matplotlib.pyplot as plt
import pytest

from lconv_cli.reporting.curves import plot_learning_curve
from lconv_cli.train.trainer import TrainResult


def _result() -> TrainResult:
    monitored = [(4, 0.1, {"val_mae": 3.0}), (8, 0.2, {"val_mae": 2.0}), (12, 0.3, {"val_mae": 2.5})]
    return TrainResult(steps=12, losses=[1.0 / (i + 1) for i in range(12)], train_seconds=0.3, monitored=monitored)


def test_learning_curve_plots_loss_per_step_and_metric_per_epoch_in_epochs():
    fig = plot_learning_curve(
        _result(),
        steps_per_epoch=4,
        best_epoch=2.0,
        title="t",
        metric="val_mae",
        label="validation MAE",
        log_scale=True,
    )
    try:
        ax_loss, ax_val = fig.axes
        loss_x, loss_y = ax_loss.lines[0].get_data()
        assert list(loss_x) == pytest.approx([(i + 1) / 4 for i in range(12)]) and len(loss_y) == 12
        metric_line, kept_line = ax_val.lines
        assert list(metric_line.get_xdata()) == [1.0, 2.0, 3.0] and list(metric_line.get_ydata()) == [3.0, 2.0, 2.5]
        assert list(kept_line.get_xdata()) == [2.0, 2.0]  # the kept epoch, a vertical line
        assert ax_val.get_yscale() == "log" and ax_val.get_ylabel() == "validation MAE"
        assert ax_loss.get_yscale() == "log" and ax_loss.get_title() == "t"
    finally:
        plt.close(fig)


def test_learning_curve_without_the_metric_draws_only_the_loss():
    fig = plot_learning_curve(_result(), steps_per_epoch=4, best_epoch=3.0, title="t")  # val_accuracy: never monitored
    try:
        ax_loss, ax_val = fig.axes
        assert len(ax_loss.lines) == 1 and not ax_val.lines and ax_val.get_legend() is None
        assert ax_val.get_yscale() == "linear"
    finally:
        plt.close(fig)
