"""translation_1d: learn the generator of 1D continuous translations (L-conv paper, Figure 6).

Data: pairs (f, exp(z D) f) of seeded random periodic signals of length d with SW shifts z
(``conf/data/shift_pairs.yaml``). Model: the shared ``generator`` model, exp(zL) f with z known.
Metrics (test split): ``generator_cos`` = |cos(L, D)| with D the SW derivative; the paper's shift
approximations at z = ``data.eval_shift``: signed cos between the paper's SW shift g(z) and
(I + zL/n)^n for n = 8, 16 and exp(zL), for the exact D (``true_*``, the paper's 0.77 / 0.93 at
d = 20) and for the learned L (``learned_*``); test MSE.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig

from lconv_cli.data import PairSet, make_shift_pairs
from lconv_cli.data.generators_file import FILE_NAME, save_generators
from lconv_cli.lie import generator_cos, sw_derivative_matrix, sw_shift_matrix
from lconv_cli.lie.shift_approximation import recursive_shift, shift_approximations
from lconv_cli.models import ExpGenerator
from lconv_cli.models.generator import EXP_METHODS
from lconv_cli.reporting.figures import save_figure, show_matrix
from lconv_cli.runner.configuring import choose
from lconv_cli.runner.registry import register
from lconv_cli.train.seeding import seeded_rngs
from lconv_cli.train.trainer import TrainResult, trainer_from_config

log = logging.getLogger(__name__)

STEPS = (8, 16)


def plot_shifts(true: torch.Tensor, learned: torch.Tensor, shift: float, scores: dict[str, float]):
    """Figure 6: the shift g(z), the generator, and (I + zL/n)^n for n = 8, 16; top row the exact D, bottom the
    learned L."""
    fig, axes = plt.subplots(2, 4, figsize=(15, 7.5))
    target = sw_shift_matrix(true.shape[0], shift, "drop")
    for row, (name, lmat) in enumerate((("true", true), ("learned", learned))):
        panels = [
            (f"g(z = {shift:g}) (SW shift)", target),
            (f"{name} L (|cos| to D = {generator_cos(lmat, true):.4f})", lmat),
        ]
        panels += [
            (f"(I + zL/{k})^{k}: cos {scores[f'{name}_n{k}']:.3f}", recursive_shift(lmat, shift, k)) for k in STEPS
        ]
        for ax, (title, mat) in zip(axes[row], panels):
            show_matrix(ax, mat, title)
    fig.tight_layout()
    return fig


def build_model(model_cfg: DictConfig, d: int, rng: torch.Generator, device: torch.device) -> ExpGenerator:
    """exp(zL) f with a learnable (d, d) generator L, initialised from ``rng``."""
    return ExpGenerator(
        d,
        method=choose(model_cfg.exp_method, EXP_METHODS, "model.exp_method"),
        order=model_cfg.taylor_order,
        recursion_steps=model_cfg.recursion_steps,
        init_scale=model_cfg.init_scale,
        rng=rng,
    ).to(device)


def train_generator(
    cfg: DictConfig,
    model: ExpGenerator,
    train: PairSet,
    reference: torch.Tensor,
    batch_rng: torch.Generator,
    out_dir: Path,
) -> TrainResult:
    """Minimise ‖exp(zL) f − g‖² over random mini-batches; |cos(L, D)| monitored."""
    batch_size = int(cfg.trainer.batch_size)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(train), (batch_size,), generator=rng).to(train.f.device)
        return ((model(train.f[idx], train.theta[idx]) - train.g[idx]) ** 2).mean()

    return trainer_from_config(
        model,
        cfg,
        out_dir=out_dir,
        batch_rng=batch_rng,
        description="translation_1d",
        monitor=lambda: {"generator_cos": generator_cos(model.generator_matrix, reference)},
    ).fit(step_loss)


def shift_scores(reference: torch.Tensor, learned: torch.Tensor, shift: float) -> dict[str, float]:
    """``true_<k>`` and ``learned_<k>``: the paper's shift approximations at z = ``shift`` for D and L."""
    scores = {f"true_{k}": v for k, v in shift_approximations(reference, shift, STEPS).items()}
    return scores | {f"learned_{k}": v for k, v in shift_approximations(learned, shift, STEPS).items()}


@register("translation_1d")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    rngs = seeded_rngs(int(cfg.seed), "train", "test", "init", "batches")
    d = int(cfg.data.d)
    shift_range = tuple(cfg.data.shift_range)
    train = make_shift_pairs(d, cfg.data.num_train, shift_range, rngs["train"]).to(device)
    test = make_shift_pairs(d, cfg.data.num_test, shift_range, rngs["test"]).to(device)
    log.info(
        "data: %d train / %d test pairs of length-%d signals, z ~ U%s samples", len(train), len(test), d, shift_range
    )
    reference = sw_derivative_matrix(d)

    model = build_model(cfg.model, d, rngs["init"], device)
    result = train_generator(cfg, model, train, reference, rngs["batches"], out_dir)

    learned = model.generator_matrix.detach().cpu()
    with torch.no_grad():
        test_mse = float(((model(test.f, test.theta) - test.g) ** 2).mean())
    shift = float(cfg.data.eval_shift)
    scores = shift_scores(reference, learned, shift)
    metrics = {
        "generator_cos": generator_cos(learned, reference),
        **scores,
        "test_mse": test_mse,
        "test_rel_mse": test_mse / float(test.g.var()),
        "final_train_loss": result.final_loss,
        "train_seconds": result.train_seconds,
        "steps": result.steps,
    }
    source = {"task": cfg.task, "run_dir": str(out_dir), "metrics": metrics}
    save_generators(out_dir / FILE_NAME, learned[None], [d], ["translation"], source)
    save_figure(plot_shifts(reference, learned, shift, scores), out_dir, "translation_shifts", pdf=True)
    return metrics
