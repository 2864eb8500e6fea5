"""so2_discovery: learn the infinitesimal generator of 2D rotations from image pairs (L-conv, Fig. 4).

Data: pairs (f, T(θ) f) of seeded random n×n images (``conf/data/rotation_pairs.yaml``), rotated by
``swi`` = exp(θ L_SW) (an exact group) or ``bilinear`` (the official code's grid_sample).
Models (``model=``): ``generator`` (θ known), ``generator_t`` (θ predicted from the pair),
``recursive_angle`` and ``fixed_angle`` (the paper's two L-conv models), ``lstsq`` (closed form
plus least-squares polish: the ceiling for single-generator models).

Metrics (test split): ``generator_cos_data`` = |cos| to the data's own generator (L_SW for swi
data, the central-difference generator G_cd of the bilinear operator for bilinear data);
``generator_cos_sw`` = |cos| to L_SW (the paper's score; ``data.conventions=paper`` builds it as
the official code did); ``fit_residual`` = ‖exp(αθL) f − g‖ / ‖g − f‖ at the best scale α
(``generator_scale``); the model's own test loss; time to |cos_data| ≥ 0.99.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig

from lconv_cli.data import PairSet, make_rotation_pairs
from lconv_cli.data.generators_file import FILE_NAME, generator_paths, load_generators, save_generators
from lconv_cli.data.rotation_pairs import ROTATIONS
from lconv_cli.errors import UserError
from lconv_cli.lie import CONVENTIONS, central_difference_generator, generator_cos, rotation_generator_2d
from lconv_cli.lie.fitting import best_scale_residual, closed_form_generator, polish_generator
from lconv_cli.models import ExpGenerator, FixedAngleStep, RecursiveAngleNet, UnknownAngleGenerator, num_params
from lconv_cli.models.generator import EXP_METHODS
from lconv_cli.reporting.figures import save_figure, scaled_to_match, show_matrix
from lconv_cli.runner.configuring import choose
from lconv_cli.runner.registry import register
from lconv_cli.train.seeding import seeded_rngs
from lconv_cli.train.trainer import Trainer, TrainResult, trainer_from_config

log = logging.getLogger(__name__)

COS_TARGET = 0.99
RESIDUAL_PAIRS = 2000  # test pairs used for fit_residual (its α search runs many exponentials)


@dataclass
class Context:
    """What every variant gets: the config, data, references and run plumbing."""

    cfg: DictConfig
    train: PairSet
    test: PairSet
    data_reference: torch.Tensor
    device: torch.device
    out_dir: Path
    rngs: dict[str, torch.Generator]
    curriculum: float = 0.0
    active: Trainer | None = None
    by_angle: torch.Tensor | None = None

    def monitor(self, learned: Callable[[], torch.Tensor]) -> Callable[[], dict[str, float]]:
        return lambda: {"generator_cos_data": generator_cos(learned(), self.data_reference)}

    def trainer(self, model: torch.nn.Module, learned: Callable[[], torch.Tensor], description: str) -> Trainer:
        self.active = trainer_from_config(
            model,
            self.cfg,
            out_dir=self.out_dir,
            batch_rng=self.rngs["batches"],
            description=description,
            monitor=self.monitor(learned),
        )
        return self.active

    def batch(self, rng: torch.Generator) -> torch.Tensor:
        """Indices of a training batch. With an angle curriculum c > 0, step s draws from the
        fraction min(1, s / (c·max_steps)) of pairs with the smallest |θ| (at least one batch)."""
        size = int(self.cfg.trainer.batch_size)
        if self.curriculum <= 0 or self.active is None:
            return torch.randint(len(self.train), (size,), generator=rng).to(self.device)
        if self.by_angle is None:
            self.by_angle = torch.argsort(self.train.theta.abs().cpu())
        ramp = (self.active.result.steps + 1) / (self.curriculum * self.active.max_steps)
        allowed = min(len(self.train), max(size, math.ceil(min(1.0, ramp) * len(self.train))))
        return self.by_angle[torch.randint(allowed, (size,), generator=rng)].to(self.device)


@dataclass
class Fit:
    """A variant's result: the learned (d, d) generator, its training record, and its own metrics."""

    generator: torch.Tensor
    result: TrainResult
    metrics: dict[str, float] = field(default_factory=dict)


@torch.no_grad()
def _chunked_mse(
    fn: Callable[[slice], tuple[torch.Tensor, torch.Tensor]],
    num: int,
    chunk: int = 4096,
) -> tuple[float, float]:
    """(MSE, MSE / Var(target)) of fn(slice) = (prediction, target) over ``num`` items in chunks."""
    total, count, targets = 0.0, 0, []
    for start in range(0, num, chunk):
        pred, target = fn(slice(start, start + chunk))
        total += float(((pred - target) ** 2).sum(dtype=torch.float64))
        count += target.numel()
        targets.append(target.flatten().double())
    mse = total / count
    return mse, mse / float(torch.cat(targets).var())


def fit_generator(ctx: Context) -> Fit:
    """θ known: minimise ‖exp(θL) f − g‖²."""
    cfg, train, test = ctx.cfg, ctx.train, ctx.test
    n = int(cfg.data.n)
    model = ExpGenerator(
        n * n,
        method=choose(cfg.model.exp_method, EXP_METHODS, "model.exp_method"),
        order=cfg.model.taylor_order,
        recursion_steps=cfg.model.recursion_steps,
        init_scale=cfg.model.init_scale,
        rng=ctx.rngs["init"],
    ).to(ctx.device)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = ctx.batch(rng)
        return ((model(train.f[idx], train.theta[idx]) - train.g[idx]) ** 2).mean()

    result = ctx.trainer(model, lambda: model.generator_matrix, "so2 generator").fit(step_loss)
    mse, rel = _chunked_mse(lambda s: (model(test.f[s], test.theta[s]), test.g[s]), len(test))
    metrics = {"test_mse": mse, "test_rel_mse": rel, "num_params": num_params(model)}
    return Fit(model.generator_matrix.detach(), result, metrics)


def fit_generator_t(ctx: Context) -> Fit:
    """θ unknown: a small network predicts θ from the pair; L̂ (normalised) is learned jointly."""
    cfg, train, test = ctx.cfg, ctx.train, ctx.test
    n = int(cfg.data.n)
    model = UnknownAngleGenerator(
        n * n,
        num_features=cfg.model.num_features,
        hidden=cfg.model.hidden,
        init_scale=cfg.model.init_scale,
        order=cfg.model.taylor_order,
        rng=ctx.rngs["init"],
    ).to(ctx.device)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = ctx.batch(rng)
        return ((model(train.f[idx], train.g[idx])[0] - train.g[idx]) ** 2).mean() + model.scale_penalty()

    result = ctx.trainer(model, lambda: model.generator_matrix, "so2 generator_t").fit(step_loss)
    mse, rel = _chunked_mse(lambda s: (model(test.f[s], test.g[s])[0], test.g[s]), len(test))
    with torch.no_grad():
        predicted = torch.cat(
            [model.predict_theta(test.f[s : s + 4096], test.g[s : s + 4096]) for s in range(0, len(test), 4096)]
        )
    return Fit(
        model.generator_matrix.detach(),
        result,
        {
            "test_mse": mse,
            "test_rel_mse": rel,
            "theta_r2": affine_r2(predicted, test.theta),
            "num_params": num_params(model),
        },
    )


def affine_r2(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    """R² of the best affine fit truth ≈ a·predicted + b (θ̂ is only defined up to scale)."""
    x, y = predicted.double().cpu(), truth.double().cpu()
    if float(y.var()) == 0.0:
        return math.nan
    design = torch.stack([x, torch.ones_like(x)], 1)
    resid = y - design @ torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    return float(1 - resid.pow(2).mean() / y.var(unbiased=False))


def _fixed_generator(cfg: DictConfig, dim: int) -> torch.Tensor | None:
    paths = generator_paths(cfg.get("generators"))
    if not paths:
        return None
    if len(paths) > 1:
        raise UserError(f"so2_discovery uses one fixed generator: give generators= one file, not {len(paths)}")
    data = load_generators(paths[0], dim=dim, count=1)
    log.info("fixed generator from %s (found by %s)", cfg.generators, data["source"].get("task", "?"))
    return data["generators"].float()


def fit_recursive_angle(ctx: Context) -> Fit:
    """The paper's recursive L-conv: regress θ from the pair; read L off the shared L-conv layer."""
    cfg, train, test = ctx.cfg, ctx.train, ctx.test
    dim = int(cfg.data.n) ** 2
    model = RecursiveAngleNet(
        dim,
        channels=cfg.model.channels,
        rec=cfg.model.rec,
        hidden=cfg.model.hidden,
        fixed_generator=_fixed_generator(cfg, dim),
        rng=ctx.rngs["init"],
    ).to(ctx.device)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = ctx.batch(rng)
        return ((model(train.f[idx], train.g[idx]) - train.theta[idx]) ** 2).mean()

    result = ctx.trainer(model, lambda: model.generator_matrix, "so2 recursive_angle").fit(step_loss)
    with torch.no_grad():
        mse, rel = _chunked_mse(lambda s: (model(test.f[s], test.g[s]), test.theta[s]), len(test))
    metrics = {"test_theta_mse": mse, "test_theta_rel_mse": rel, "num_params": num_params(model)}
    return Fit(model.generator_matrix.detach(), result, metrics)


def fit_fixed_angle(ctx: Context) -> Fit:
    """The paper's fixed-angle model: y = f + w·L f at one angle θ; the generator is w·L/θ."""
    cfg, train, test = ctx.cfg, ctx.train, ctx.test
    low, high = cfg.data.theta_range_deg
    if low != high or low == 0:
        raise UserError(
            f"model=fixed_angle needs one nonzero angle, e.g. data.theta_range_deg=[18,18]; got [{low}, {high}]"
        )
    theta = math.radians(low)
    model = FixedAngleStep(int(cfg.data.n) ** 2, rng=ctx.rngs["init"]).to(ctx.device)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = ctx.batch(rng)
        return ((model(train.f[idx]) - train.g[idx]) ** 2).mean()

    result = ctx.trainer(model, lambda: model.generator_matrix(theta), "so2 fixed_angle").fit(step_loss)
    with torch.no_grad():
        mse, rel = _chunked_mse(lambda s: (model(test.f[s]), test.g[s]), len(test))
    metrics = {"test_mse": mse, "test_rel_mse": rel, "num_params": num_params(model)}
    return Fit(model.generator_matrix(theta).detach(), result, metrics)


LSTSQ_SOLUTIONS = ("polished", "closed_form", "first_order")


def fit_lstsq(ctx: Context) -> Fit:
    """Least-squares T at small angles; its matrix log / θ (closed form), L-BFGS polish of that, or
    (T − I)/θ (first order, the paper's "LinReg"); ``model.solution`` picks the reported one."""
    cfg, train = ctx.cfg, ctx.train
    solution = choose(cfg.model.solution, LSTSQ_SOLUTIONS, "model.solution")
    started = time.perf_counter()
    closed, transform, theta_bar = closed_form_generator(train.f, train.theta, train.g, cfg.model.pairs_per_unknown)
    first_order = (transform - torch.eye(transform.shape[0], dtype=transform.dtype)) / theta_bar
    num = min(len(train), int(cfg.model.polish_pairs))
    polished = closed
    if solution == "polished" and int(cfg.model.polish_iters) > 0 and num > 0:
        if float(train.theta.min()) == float(train.theta.max()):
            log.warning(
                "lstsq: every pair has the same angle, so exp(θL) = T has many solutions L and the polish "
                "may leave log(T)/θ far behind"
            )
        iters = int(cfg.model.polish_iters)
        polished = polish_generator(closed, train.f[:num], train.theta[:num], train.g[:num], iters)
    seconds = time.perf_counter() - started
    sw = rotation_generator_2d(int(cfg.data.n), cfg.data.conventions)
    extra = {
        "closed_form_cos_data": generator_cos(closed, ctx.data_reference),
        "closed_form_cos_sw": generator_cos(closed, sw),
        "first_order_cos_data": generator_cos(first_order, ctx.data_reference),
        "first_order_cos_sw": generator_cos(first_order, sw),
        "closed_form_theta_deg": math.degrees(theta_bar),
    }
    reported = {"polished": polished, "closed_form": closed, "first_order": first_order}[solution]
    return Fit(reported, TrainResult(steps=0, train_seconds=seconds), extra)


VARIANTS: dict[str, Callable[[Context], Fit]] = {
    "generator": fit_generator,
    "generator_t": fit_generator_t,
    "recursive_angle": fit_recursive_angle,
    "fixed_angle": fit_fixed_angle,
    "lstsq": fit_lstsq,
}


def first_reaching(result: TrainResult, name: str, target: float) -> tuple[float, float]:
    """(step, train seconds) of the first monitored point with ``name`` ≥ target; NaNs if none."""
    for step, seconds, values in result.monitored:
        if values[name] >= target:
            return float(step), seconds
    return math.nan, math.nan


def plot_generators(learned: torch.Tensor, references: dict[str, torch.Tensor], result: TrainResult, title: str):
    """Learned L next to each reference (scaled to it), and the training curves."""
    learned = learned.detach().double().cpu()
    panels = [(f"learned L ({title})", scaled_to_match(learned, next(iter(references.values()))))]
    for name, ref in references.items():
        panels.append((f"{name} (|cos| = {generator_cos(learned, ref):.4f})", ref.double().cpu()))
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.3 * (len(panels) + 1), 4))
    for ax, (name, mat) in zip(axes, panels):
        show_matrix(ax, mat, name)
    ax = axes[-1]
    if result.losses:
        ax.semilogy(range(1, len(result.losses) + 1), result.losses)
        ax.set_xlabel("step")
        ax.set_ylabel("train loss")
    if result.monitored:
        twin = ax.twinx()
        steps = [m[0] for m in result.monitored]
        twin.plot(steps, [m[2]["generator_cos_data"] for m in result.monitored], color="tab:orange")
        twin.set_ylabel("|cos| to the data's generator", color="tab:orange")
        twin.set_ylim(0, 1.02)
    ax.set_title("training", fontsize=9)
    fig.tight_layout()
    return fig


@register("so2_discovery")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    rngs = seeded_rngs(int(cfg.seed), "train", "test", "init", "batches")
    n = int(cfg.data.n)
    rotation = choose(cfg.data.rotation, ROTATIONS, "data.rotation")
    conventions = choose(cfg.data.conventions, CONVENTIONS, "data.conventions")
    variant = choose(cfg.model.name, VARIANTS, "model")
    theta_range = tuple(cfg.data.theta_range_deg)
    train = make_rotation_pairs(n, cfg.data.num_train, theta_range, rotation, rngs["train"], conventions).to(device)
    test = make_rotation_pairs(n, cfg.data.num_test, theta_range, rotation, rngs["test"], conventions).to(device)
    log.info(
        "data: %d train / %d test pairs of %dx%d images, %s rotation, θ ~ U%s deg",
        len(train),
        len(test),
        n,
        n,
        rotation,
        theta_range,
    )

    sw = rotation_generator_2d(n, conventions)
    data_reference = sw if rotation == "swi" else central_difference_generator(n)
    curriculum = float(cfg.model.get("curriculum", 0.0))
    ctx = Context(cfg, train, test, data_reference.to(device), device, out_dir, rngs, curriculum)
    fit = VARIANTS[variant](ctx)

    learned = fit.generator.detach().cpu()
    k = min(len(test), RESIDUAL_PAIRS)
    scale, residual = best_scale_residual(learned, test.f[:k], test.theta[:k], test.g[:k])
    steps_to_target, seconds_to_target = first_reaching(fit.result, "generator_cos_data", COS_TARGET)
    metrics = {
        "generator_cos_data": generator_cos(learned, data_reference),
        "generator_cos_sw": generator_cos(learned, sw),
        "fit_residual": residual,
        "generator_scale": scale,
        **fit.metrics,
        "final_train_loss": fit.result.final_loss,
        "train_seconds": fit.result.train_seconds,
        "steps_to_cos_0.99": steps_to_target,
        "seconds_to_cos_0.99": seconds_to_target,
        "steps": fit.result.steps,
    }
    source = {"task": cfg.task, "model": variant, "run_dir": str(out_dir), "metrics": metrics}
    save_generators(out_dir / FILE_NAME, (scale * learned)[None], [n, n], ["rotation"], source)
    references = {"L_SW" + (" (paper grid)" if conventions == "paper" else ""): sw}
    if rotation == "bilinear":
        references["G_cd (bilinear)"] = data_reference
    save_figure(plot_generators(learned, references, fit.result, variant), out_dir, "so2_generator", pdf=True)
    return metrics
