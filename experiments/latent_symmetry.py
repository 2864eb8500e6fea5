"""latent_symmetry: which one-parameter transformation relates the images of each pair, and how
is its parameter distributed? (neural symmetry detection paper, 2024; Figures 2–4).

Data (``conf/data/symmetry_pairs.yaml``, :mod:`lconv_cli.data.symmetry_pairs`): ``dataset=``
mnist | fashion_mnist | cifar10 (grey) images, ``transform=`` tx | ty | rotation | scale | shear |
sct_x | sct_y | compositions, parameters t from ``data.distribution`` on ``transform.range``,
``data.task`` same_image | different_image. Train pairs come from the official training split,
test pairs from the official test split.

Model (``conf/model/latent_flow.yaml``, :class:`lconv_cli.models.latent_flow.LatentFlowModel`):
autoencoder with z_t = expm(t G_α) z, a t-network, α̂ in the affine (6) or quadratic (12) field
basis (``model.basis=auto``: the smallest that holds the true field).

Metrics (test split): ``generator_cos`` = |α̂·α_true| (sign-free), ``scaling_component`` and
``translation_component`` = |α̂·e| for the unit scaling / translation directions (spurious leakage),
``t_r2`` (R² of the best affine map from predicted to true t), ``t_w1`` (Wasserstein-1 between the
aligned predicted and the true t, in the units of t) and ``t_w1_rel`` (the same over std(t)),
``recon_mse``, ``pixel_mse`` (prediction of xt), ``alpha_match_mse``. Record: ``coefficients.csv``
(learned and true α̂ per field), ``predictions.pt``, figures ``latent_flow`` (learned field on the
latent patch and on the image, true field, coefficients), ``t_histogram``, ``reconstructions``.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig, OmegaConf

from lconv_cli.data.image_variants import load_image_dataset
from lconv_cli.data.symmetry_pairs import (
    DISTRIBUTIONS,
    GRIDS,
    INTERPOLATIONS,
    TASKS,
    SymmetryPairs,
    make_symmetry_pairs,
    mode_centres,
    pixel_points,
    to_grey,
)
from lconv_cli.errors import UserError
from lconv_cli.lie import ascii_field_names, coefficient_cos, field_basis_names, field_vector
from lconv_cli.lie.flows import field_velocity, grid_points, has_quadratic_part
from lconv_cli.lie.parameter_metrics import affine_alignment, r2_score, wasserstein_1d
from lconv_cli.models import num_params
from lconv_cli.models.latent_flow import LatentFlowModel
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.configuring import choose
from lconv_cli.runner.registry import register
from lconv_cli.train.evaluation import evaluating
from lconv_cli.train.seeding import built_with_seed_of, seeded_rngs
from lconv_cli.train.trainer import TrainResult, trainer_from_config

log = logging.getLogger(__name__)

BASES = ("auto", "affine", "quadratic")
LOSS_TERMS = ("pixel", "recon", "latent", "alpha", "l1")
EVAL_BATCH = 1024
PREDICTIONS_FILE = "predictions.pt"


def true_coefficients(fields: dict, basis: str) -> tuple[torch.Tensor, str]:
    """(unit α_true (k,) float64, basis used) of the transform's fields; ``auto`` picks affine when it suffices."""
    if basis == "auto":
        basis = "quadratic" if has_quadratic_part(field_vector(fields, "quadratic")) else "affine"
    try:
        vec = field_vector(fields, basis)
    except ValueError as exc:
        raise UserError(f"transform fields {dict(fields)} do not fit model.basis={basis}: {exc}") from None
    if vec.norm() == 0:
        raise UserError(f"transform fields {dict(fields)} add up to the zero field")
    return vec / vec.norm(), basis


def taylor_order(choice: object, basis: str) -> int:
    """α-matching order: ``auto`` is 0 (the exact exponential) in the affine basis and 2 in the quadratic one,
    where the exact exponential stalls (docs/experiments/latent_symmetry.md); an integer is taken as given."""
    if choice == "auto":
        return 0 if basis == "affine" else 2
    if isinstance(choice, bool) or not isinstance(choice, int) or choice < 0:
        raise UserError(f"model.taylor_order must be auto or an integer ≥ 0; got {choice!r}")
    return int(choice)


def load_grey_images(
    cfg: DictConfig,
    train: bool,
    count: int,
    rng: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, n, n) float images in [0, 1] and (N,) labels: a seeded random subset of ``count`` from one official split."""
    images, labels = load_image_dataset(
        cfg.dataset.name, cfg.data.root, train, bool(cfg.data.download), bool(cfg.data.verify)
    )
    keep = torch.randperm(len(images), generator=rng)[: min(int(count), len(images))]
    return to_grey(images[keep]), labels[keep]


@torch.no_grad()
def evaluate(model: LatentFlowModel, pairs: SymmetryPairs, taylor_order: int) -> dict[str, torch.Tensor | float]:
    """Predicted t (N,) and the test mean squared errors, in eval mode, in chunks."""
    t_pred, sums = [], {"pixel_mse": 0.0, "recon_mse": 0.0, "alpha_match_mse": 0.0}
    with evaluating(model):
        for start in range(0, len(pairs), EVAL_BATCH):
            x0, xt = pairs.x0[start : start + EVAL_BATCH], pairs.xt[start : start + EVAL_BATCH]
            t = model.predict_t(x0, xt)
            terms = model.losses(x0, xt, taylor_order, t=t)
            t_pred.append(t)
            sums["pixel_mse"] += float(terms["pixel"]) * len(x0)
            sums["recon_mse"] += float(terms["recon"]) / 2 * len(x0)
            sums["alpha_match_mse"] += float(terms["alpha"]) * len(x0)
    return {"t_pred": torch.cat(t_pred).cpu(), **{k: v / len(pairs) for k, v in sums.items()}}


def oriented(alpha: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``alpha`` with its sign chosen to agree with ``reference`` (the generator's sign is not identifiable)."""
    return alpha if float(alpha @ reference) >= 0 else -alpha


def plot_latent_flow(alpha: torch.Tensor, true: torch.Tensor, basis: str, patch: int, title: str):
    """True field and learned field on the image (12×12 arrows), learned field on the latent patch, and α̂ per
    field."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    image_points = grid_points(torch.linspace(-1, 1, 12, dtype=torch.float64))
    panels = [
        ("true field (image)", true, image_points),
        ("learned field (image)", alpha, image_points),
        (f"learned field (latent {patch}×{patch})", alpha, pixel_points(patch)),
    ]
    for ax, (name, coeffs, pts) in zip(axes, panels):
        v = field_velocity(coeffs, pts)
        ax.quiver(pts[:, 0], pts[:, 1], v[:, 0], v[:, 1], angles="xy", color="C0" if "true" in name else "C3")
        ax.set(xlim=(-1.15, 1.15), ylim=(1.15, -1.15), aspect="equal", title=name)  # y down, as the image
        ax.set_xticks([])
        ax.set_yticks([])
    names = field_basis_names(basis)
    pos = torch.arange(len(names))
    axes[3].bar(pos - 0.2, true.numpy(), width=0.4, label="true α")
    axes[3].bar(pos + 0.2, alpha.numpy(), width=0.4, label="learned α̂")
    axes[3].set_xticks(pos.tolist(), names, rotation=60, fontsize=8)
    axes[3].axhline(0, color="k", lw=0.5)
    axes[3].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_t_histogram(aligned: torch.Tensor, true: torch.Tensor, centres: list[float], title: str):
    """Histogram of the aligned predicted t over the true t's (the paper's Figure 3)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    low, high = float(torch.minimum(aligned.min(), true.min())), float(torch.maximum(aligned.max(), true.max()))
    bins = torch.linspace(low, high, 60).numpy()
    ax.hist(true.numpy(), bins=bins, alpha=0.5, density=True, label="true t")
    ax.hist(aligned.numpy(), bins=bins, alpha=0.5, density=True, label="predicted t (aligned)")
    for centre in centres:
        ax.axvline(centre, color="gray", lw=0.6, ls="--")
    ax.set(xlabel="t", ylabel="density", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_reconstructions(
    model: LatentFlowModel,
    pairs: SymmetryPairs,
    t_scale: float,
    taylor_order: int,
    count: int = 8,
):
    """Rows: x0, xt, decoder prediction of xt, the α-matched pixel transform of x0, AE(x0)."""
    x0, xt = pairs.x0[:count], pairs.xt[:count]
    pred, t = model(x0, xt)
    matched = model.pixel_transform(t * t_scale, x0, taylor_order)
    rows = [
        ("x0", x0),
        ("xt", xt),
        ("prediction", pred),
        ("α-matched", matched),
        ("AE(x0)", model.decode(model.encode(x0))),
    ]
    n = model.n
    fig, axes = plt.subplots(len(rows), count, figsize=(1.3 * count, 1.4 * len(rows)))
    for r, (name, imgs) in enumerate(rows):
        for c in range(count):
            axes[r, c].imshow(imgs[c].reshape(n, n).cpu().numpy(), cmap="gray")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8)
    fig.tight_layout()
    return fig


def write_coefficients(path: Path, basis: str, learned: torch.Tensor, true: torch.Tensor) -> None:
    """``coefficients.csv``: field, learned α̂ (sign aligned with the truth), true α."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["field", "learned", "true"])
        for name, a, b in zip(ascii_field_names(basis), learned.tolist(), true.tolist()):
            writer.writerow([name, f"{a:.6f}", f"{b:.6f}"])


@dataclass(frozen=True)
class Setting:
    """The run's checked choices: t distribution on [low, high], pair task, resampling, pixel grid,
    the transform's fields, the field basis of the model and the unit true coefficients α_true (k,) float64."""

    distribution: str
    task: str
    interpolation: str
    grid: str
    fields: dict
    low: float
    high: float
    basis: str
    true_alpha: torch.Tensor


def read_setting(cfg: DictConfig) -> Setting:
    """The run's choices from the config, each checked against its allowed values."""
    dist = choose(cfg.data.distribution, DISTRIBUTIONS, "data.distribution")
    task = choose(cfg.data.task, TASKS, "data.task")
    interpolation = choose(cfg.data.interpolation, INTERPOLATIONS, "data.interpolation")
    grid = choose(cfg.data.grid, GRIDS, "data.grid")
    basis_choice = choose(cfg.model.basis, BASES, "model.basis")
    fields = OmegaConf.to_container(cfg.transform.fields)
    true_alpha, basis = true_coefficients(fields, basis_choice)
    low, high = (float(v) for v in cfg.transform.range)
    return Setting(dist, task, interpolation, grid, fields, low, high, basis, true_alpha)


@dataclass
class PairData:
    """Train and test pairs on the run's device, the training images' standardisation (mean, std)
    and the image side n."""

    train: SymmetryPairs
    test: SymmetryPairs
    mean: float
    std: float
    n: int


def make_pairs(cfg: DictConfig, setting: Setting, rngs: dict[str, torch.Generator], device: torch.device) -> PairData:
    """Seeded image subsets of both official splits and their transformed partners; test pairs are
    standardised with the training statistics."""
    train_images, train_labels = load_grey_images(cfg, True, cfg.data.num_train, rngs["train_images"])
    test_images, test_labels = load_grey_images(cfg, False, cfg.data.num_test, rngs["test_images"])
    pair_args = dict(
        coeffs=field_vector(setting.fields, "quadratic"),
        distribution=setting.distribution,
        low=setting.low,
        high=setting.high,
        task=setting.task,
        interpolation=setting.interpolation,
        grid=setting.grid,
    )
    train, mean, std = make_symmetry_pairs(train_images, train_labels, rng=rngs["train_pairs"], **pair_args)
    test, _, _ = make_symmetry_pairs(test_images, test_labels, rng=rngs["test_pairs"], mean=mean, std=std, **pair_args)
    return PairData(train.to(device), test.to(device), mean, std, train_images.shape[-1])


def build_model(model_cfg: DictConfig, n: int, basis: str, init_rng: torch.Generator, device) -> LatentFlowModel:
    """The latent-flow model for n×n images in ``basis``; α from ``init_rng``, the networks from torch's
    global RNG seeded by it."""
    m = model_cfg
    return built_with_seed_of(
        init_rng,
        lambda: LatentFlowModel(
            n,
            basis,
            encoder_widths=list(m.encoder_widths),
            t_widths=list(m.t_widths),
            patch=int(m.patch),
            channels=int(m.channels),
            activation=m.activation,
            alpha_init=float(m.alpha_init),
            rng=init_rng,
        ).to(device),
    )


def train_latent_flow(
    cfg: DictConfig,
    model: LatentFlowModel,
    train: SymmetryPairs,
    order: int,
    true_alpha: torch.Tensor,
    batch_rng: torch.Generator,
    out_dir: Path,
) -> TrainResult:
    """Adam on the weighted loss terms over random mini-batches of pairs (α at ``model.alpha_lr``); with
    the exact exponential (order 0) the first ``model.taylor_warmup`` of the steps use
    ``model.taylor_warmup_order``; |cos| to α_true monitored."""
    m = cfg.model
    weights = {k: float(m.weights[k]) for k in LOSS_TERMS}
    detach_t = bool(m.detach_t)
    warmup_steps = int(float(m.taylor_warmup) * int(cfg.trainer.max_steps)) if order == 0 else 0
    log.info("α-matching: %s", "exact exponential (RK4)" if order == 0 else f"Taylor polynomial of order {order}")
    true_on_device = true_alpha.float().to(model.alpha.device)
    batch_size = int(cfg.trainer.batch_size)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(train), (batch_size,), generator=rng).to(train.x0.device)
        step_order = int(m.taylor_warmup_order) if trainer.result.steps < warmup_steps else order
        terms = model.losses(train.x0[idx], train.xt[idx], step_order, detach_t)
        return sum(weights[k] * v for k, v in terms.items())

    groups = [{"params": model.network_parameters()}, {"params": [model.alpha], "lr": float(m.alpha_lr)}]
    trainer = trainer_from_config(
        model,
        cfg,
        out_dir=out_dir,
        batch_rng=batch_rng,
        description=f"latent_symmetry: {cfg.transform.name}",
        monitor=lambda: {"generator_cos": coefficient_cos(model.unit_alpha(), true_on_device)},
        param_groups=groups,
    )
    return trainer.fit(step_loss)


@dataclass
class Predictions:
    """Test-split results: ``learned`` unit α̂ (k,) float64 with the sign of α_true, true and predicted t
    (N,) float64, the affine map ``alignment`` = (a, b) best taking predicted to true t and
    ``aligned`` = a·t̂ + b, and ``scores`` from :func:`evaluate`."""

    learned: torch.Tensor
    t_true: torch.Tensor
    t_pred: torch.Tensor
    alignment: tuple[float, float]
    aligned: torch.Tensor
    scores: dict[str, torch.Tensor | float]


def predict(model: LatentFlowModel, test: SymmetryPairs, order: int, true_alpha: torch.Tensor) -> Predictions:
    """Evaluate on the test pairs and align the predicted t with the true ones."""
    scores = evaluate(model, test, order)
    learned = oriented(model.unit_alpha().detach().double().cpu(), true_alpha)
    t_true, t_pred = test.t.double().cpu(), scores["t_pred"].double()
    a, b = affine_alignment(t_pred, t_true)
    return Predictions(learned, t_true, t_pred, (a, b), a * t_pred + b, scores)


def latent_metrics(
    p: Predictions,
    true_alpha: torch.Tensor,
    basis: str,
    model: LatentFlowModel,
    result: TrainResult,
) -> dict[str, float]:
    """The run's metrics (module docstring)."""
    t_w1 = wasserstein_1d(p.aligned, p.t_true)
    scaling, _ = true_coefficients({"scaling": 1.0}, basis)
    translation_x, _ = true_coefficients({"translation_x": 1.0}, basis)
    translation_y, _ = true_coefficients({"translation_y": 1.0}, basis)
    return {
        "generator_cos": coefficient_cos(p.learned, true_alpha),
        "scaling_component": abs(float(p.learned @ scaling)),
        "translation_component": float(torch.hypot(p.learned @ translation_x, p.learned @ translation_y)),
        "t_r2": r2_score(p.t_pred, p.t_true),
        "t_w1": t_w1,
        "t_w1_rel": t_w1 / float(p.t_true.std()),
        "recon_mse": p.scores["recon_mse"],
        "pixel_mse": p.scores["pixel_mse"],
        "alpha_match_mse": p.scores["alpha_match_mse"],
        "num_fields": len(true_alpha),
        "num_params": num_params(model),
        "final_train_loss": result.final_loss,
        "train_seconds": result.train_seconds,
        "steps": result.steps,
    }


def write_record(out_dir: Path, p: Predictions, setting: Setting, data: PairData) -> None:
    """``coefficients.csv`` and ``predictions.pt``."""
    write_coefficients(out_dir / "coefficients.csv", setting.basis, p.learned, setting.true_alpha)
    torch.save(
        {
            "basis": setting.basis,
            "fields": field_basis_names(setting.basis),
            "alpha": p.learned,
            "true_alpha": setting.true_alpha,
            "t_true": p.t_true,
            "t_pred": p.t_pred,
            "t_aligned": p.aligned,
            "alignment": p.alignment,
            "mean": data.mean,
            "std": data.std,
        },
        out_dir / PREDICTIONS_FILE,
    )


def save_figures(
    out_dir: Path,
    cfg: DictConfig,
    setting: Setting,
    label: str,
    p: Predictions,
    metrics: dict[str, float],
    model: LatentFlowModel,
    test: SymmetryPairs,
    order: int,
) -> None:
    """Figures ``latent_flow`` and ``t_histogram`` (PNG and PDF) and ``reconstructions``."""
    title = f"{label}: |cos| {metrics['generator_cos']:.4f}"
    save_figure(
        plot_latent_flow(p.learned, setting.true_alpha, setting.basis, int(cfg.model.patch), title),
        out_dir,
        "latent_flow",
        pdf=True,
    )
    dist, low, high = setting.distribution, setting.low, setting.high
    centres = mode_centres(dist, low, high) if dist != "uniform" else [low, high]
    title = f"{cfg.transform.name}, {dist}: R² {metrics['t_r2']:.3f}, W1 {metrics['t_w1']:.3g}"
    save_figure(plot_t_histogram(p.aligned, p.t_true, centres, title), out_dir, "t_histogram", pdf=True)
    t_scale = float(model.log_pixel_scale.detach().exp())
    save_figure(plot_reconstructions(model, test, t_scale, order), out_dir, "reconstructions")


@register("latent_symmetry")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    setting = read_setting(cfg)
    rngs = seeded_rngs(int(cfg.seed), "train_images", "test_images", "train_pairs", "test_pairs", "init", "batches")
    data = make_pairs(cfg, setting, rngs, device)
    n, dist, task = data.n, setting.distribution, setting.task
    label = f"{cfg.transform.name} on {cfg.dataset.name} ({task}, {dist} t in [{setting.low:g}, {setting.high:g}])"
    log.info(
        "data: %s; %d train / %d test pairs of %d×%d images, %s interpolation",
        label,
        len(data.train),
        len(data.test),
        n,
        n,
        setting.interpolation,
    )

    model = build_model(cfg.model, n, setting.basis, rngs["init"], device)
    log.info("model: %s basis (%d fields), %d parameters", setting.basis, len(setting.true_alpha), num_params(model))
    order = taylor_order(cfg.model.taylor_order, setting.basis)
    result = train_latent_flow(cfg, model, data.train, order, setting.true_alpha, rngs["batches"], out_dir)

    predictions = predict(model, data.test, order, setting.true_alpha)
    metrics = latent_metrics(predictions, setting.true_alpha, setting.basis, model, result)
    write_record(out_dir, predictions, setting, data)
    save_figures(out_dir, cfg, setting, label, predictions, metrics, model, data.test, order)
    return metrics
