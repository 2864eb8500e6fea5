"""so2_discovery: learn the infinitesimal generator of 2D rotations from image pairs (L-conv, Fig. 4).

Data: pairs (f, T(θ) f) of seeded random n×n images, T(θ) = exp(θ L_SW) (see ``conf/data``).
Model: a learnable generator L applied as exp(θ L) f with θ known, trained on the MSE.
Metrics (test split): ``generator_cos`` = |cos| between L and the data's own generator L_SW,
``test_mse``, ``test_rel_mse`` (MSE over the target's variance), ``train_seconds``, and
``steps_to_cos_0.99`` / ``seconds_to_cos_0.99``: the first log point (every ``trainer.log_every``
steps) at which the cosine reached 0.99 (NaN if it never did).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig

from lconv_cli.configuring import choose
from lconv_cli.data import PairSet, make_rotation_pairs
from lconv_cli.data.rotation_pairs import OPERATORS
from lconv_cli.figures import save_figure
from lconv_cli.lie import generator_cos, rotation_generator_2d
from lconv_cli.models import ExpGenerator
from lconv_cli.models.generator import EXP_METHODS
from lconv_cli.optim import make_optimizer, make_schedule
from lconv_cli.registry import register
from lconv_cli.seeding import seeded_generators
from lconv_cli.training import Trainer, TrainResult

log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate_mse(model: ExpGenerator, pairs: PairSet, chunk: int = 4096) -> tuple[float, float]:
    """(MSE, MSE / Var(target)) of exp(θL) f against T(θ) f over all pairs."""
    total = 0.0
    for start in range(0, len(pairs), chunk):
        sl = slice(start, start + chunk)
        pred = model(pairs.f[sl], pairs.theta[sl])
        total += float(((pred - pairs.g[sl]) ** 2).sum(dtype=torch.float64))
    mse = total / pairs.g.numel()
    return mse, mse / float(pairs.g.var())


COS_TARGET = 0.99


def first_reaching(result: TrainResult, name: str, target: float) -> tuple[float, float]:
    """(step, train seconds) of the first monitored point with ``name`` ≥ target; NaNs if none."""
    for step, seconds, values in result.monitored:
        if values[name] >= target:
            return float(step), seconds
    return math.nan, math.nan


def plot_generators(learned: torch.Tensor, reference: torch.Tensor, result: TrainResult, cos: float):
    """Learned L, reference L (scaled to the learned norm), their difference, the loss and |cos| curves."""
    learned = learned.detach().double().cpu()
    reference = reference.double().cpu()
    sign = 1.0 if float((learned * reference).sum()) >= 0 else -1.0
    scaled_ref = sign * reference * learned.norm() / reference.norm()
    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    vmax = float(scaled_ref.abs().max())
    diff = learned - scaled_ref
    dmax = max(float(diff.abs().max()), 1e-300)
    panels = [
        (f"learned L (|cos| = {cos:.6f})", learned, vmax),
        ("reference L_SW (scaled to ‖L‖)", scaled_ref, vmax),
        (f"difference (max |Δ| = {dmax:.1e})", diff, dmax),
    ]
    for ax, (title, mat, limit) in zip(axes, panels):
        im = ax.imshow(mat.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046)
    axes[3].semilogy(range(1, len(result.losses) + 1), result.losses)
    axes[3].set_xlabel("step")
    axes[3].set_ylabel("train MSE")
    axes[3].set_title("training loss and |cos| to L_SW")
    if result.monitored:
        twin = axes[3].twinx()
        twin.plot([m[0] for m in result.monitored], [m[2]["generator_cos"] for m in result.monitored], color="tab:orange")
        twin.set_ylabel("|cos(L, L_SW)|", color="tab:orange")
        twin.set_ylim(0, 1.02)
    fig.tight_layout()
    return fig


@register("so2_discovery")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    rngs = seeded_generators(int(cfg.seed), "train", "test", "init", "batches")
    n = int(cfg.data.n)
    reference = rotation_generator_2d(n)
    theta_range = tuple(cfg.data.theta_range_deg)
    operator = choose(cfg.data.operator, OPERATORS, "data.operator")
    method = choose(cfg.model.exp_method, EXP_METHODS, "model.exp_method")
    train = make_rotation_pairs(n, cfg.data.num_train, theta_range, operator, rngs["train"]).to(device)
    test = make_rotation_pairs(n, cfg.data.num_test, theta_range, operator, rngs["test"]).to(device)
    log.info("data: %d train / %d test pairs of %dx%d images, θ ~ U%s deg", len(train), len(test), n, n, theta_range)

    model = ExpGenerator(
        n * n,
        method=method,
        order=cfg.model.taylor_order,
        recursion_steps=cfg.model.recursion_steps,
        init_scale=cfg.model.init_scale,
        generator=rngs["init"],
    ).to(device)
    batch_size = int(cfg.trainer.batch_size)

    def step_loss(batch_rng: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(train), (batch_size,), generator=batch_rng).to(device)
        pred = model(train.f[idx], train.theta[idx])
        return ((pred - train.g[idx]) ** 2).mean()

    optimizer = make_optimizer(model.parameters(), cfg.trainer)
    trainer = Trainer(
        model,
        optimizer,
        scheduler=make_schedule(optimizer, cfg.trainer),
        max_steps=cfg.trainer.max_steps,
        out_dir=out_dir,
        batch_rng=rngs["batches"],
        log_every=cfg.trainer.log_every,
        checkpoint_every=cfg.trainer.checkpoint_every,
        progress=cfg.trainer.progress,
        resume_dir=cfg.resume,
        description="so2_discovery",
        monitor=lambda: {"generator_cos": generator_cos(model.generator_matrix, reference)},
    )
    result = trainer.fit(step_loss)

    learned = model.generator_matrix.detach()
    cos = generator_cos(learned, reference)
    steps_to_target, seconds_to_target = first_reaching(result, "generator_cos", COS_TARGET)
    test_mse, test_rel_mse = evaluate_mse(model, test)
    torch.save({"learned": learned.cpu(), "reference": reference}, out_dir / "generators.pt")
    save_figure(plot_generators(learned, reference, result, cos), out_dir, "so2_generator", pdf=True)
    return {
        "generator_cos": cos,
        "test_mse": test_mse,
        "test_rel_mse": test_rel_mse,
        "final_train_loss": result.final_loss,
        "train_seconds": result.train_seconds,
        "steps_to_cos_0.99": steps_to_target,
        "seconds_to_cos_0.99": seconds_to_target,
        "steps": result.steps,
        "num_params": sum(p.numel() for p in model.parameters()),
    }
