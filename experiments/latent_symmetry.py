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
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig, OmegaConf

from lconv_cli.runner.configuring import choose
from lconv_cli.data.image_variants import load_image_dataset
from lconv_cli.errors import UserError
from lconv_cli.reporting.figures import save_figure
from lconv_cli.lie import ascii_field_names, coefficient_cos, field_basis_names, field_vector
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
from lconv_cli.lie.flows import field_velocity, grid_points, has_quadratic_part
from lconv_cli.models import num_params
from lconv_cli.models.latent_flow import LatentFlowModel
from lconv_cli.lie.parameter_metrics import affine_alignment, r2_score, wasserstein_1d
from lconv_cli.runner.registry import register
from lconv_cli.train.seeding import seeded_generators
from lconv_cli.train.trainer import trainer_from_config

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
    where the exact exponential stalls (README); an integer is taken as given."""
    if choice == "auto":
        return 0 if basis == "affine" else 2
    if isinstance(choice, bool) or not isinstance(choice, int) or choice < 0:
        raise UserError(f"model.taylor_order must be auto or an integer ≥ 0; got {choice!r}")
    return int(choice)


def load_grey_images(cfg: DictConfig, train: bool, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, n, n) float images in [0, 1] and (N,) labels: a seeded random subset of ``count`` from one official split."""
    images, labels = load_image_dataset(cfg.dataset.name, cfg.data.root, train, bool(cfg.data.download), bool(cfg.data.verify))
    keep = torch.randperm(len(images), generator=generator)[: min(int(count), len(images))]
    return to_grey(images[keep]), labels[keep]


@torch.no_grad()
def evaluate(model: LatentFlowModel, pairs: SymmetryPairs, taylor_order: int) -> dict[str, torch.Tensor | float]:
    """Predicted t (N,) and the test mean squared errors, in eval mode, in chunks."""
    model.eval()
    t_pred, sums = [], {"pixel_mse": 0.0, "recon_mse": 0.0, "alpha_match_mse": 0.0}
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
    """True field and learned field on the image (12×12 arrows), learned field on the latent patch, and α̂ per field."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    image_points = grid_points(torch.linspace(-1, 1, 12, dtype=torch.float64))
    panels = [("true field (image)", true, image_points), ("learned field (image)", alpha, image_points), (f"learned field (latent {patch}×{patch})", alpha, pixel_points(patch))]
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
def plot_reconstructions(model: LatentFlowModel, pairs: SymmetryPairs, t_scale: float, taylor_order: int, count: int = 8):
    """Rows: x0, xt, decoder prediction of xt, the α-matched pixel transform of x0, AE(x0)."""
    x0, xt = pairs.x0[:count], pairs.xt[:count]
    pred, t = model(x0, xt)
    matched = model.pixel_transform(t * t_scale, x0, taylor_order)
    rows = [("x0", x0), ("xt", xt), ("prediction", pred), ("α-matched", matched), ("AE(x0)", model.decode(model.encode(x0)))]
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


@register("latent_symmetry")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    dist = choose(cfg.data.distribution, DISTRIBUTIONS, "data.distribution")
    task = choose(cfg.data.task, TASKS, "data.task")
    interpolation = choose(cfg.data.interpolation, INTERPOLATIONS, "data.interpolation")
    grid = choose(cfg.data.grid, GRIDS, "data.grid")
    basis_choice = choose(cfg.model.basis, BASES, "model.basis")
    fields = OmegaConf.to_container(cfg.transform.fields)
    true_alpha, basis = true_coefficients(fields, basis_choice)
    low, high = (float(v) for v in cfg.transform.range)
    rngs = seeded_generators(int(cfg.seed), "train_images", "test_images", "train_pairs", "test_pairs", "init", "batches")

    train_images, train_labels = load_grey_images(cfg, True, cfg.data.num_train, rngs["train_images"])
    test_images, test_labels = load_grey_images(cfg, False, cfg.data.num_test, rngs["test_images"])
    pair_args = dict(coeffs=field_vector(fields, "quadratic"), distribution=dist, low=low, high=high, task=task, interpolation=interpolation, grid=grid)
    train, mean, std = make_symmetry_pairs(train_images, train_labels, generator=rngs["train_pairs"], **pair_args)
    test, _, _ = make_symmetry_pairs(test_images, test_labels, generator=rngs["test_pairs"], mean=mean, std=std, **pair_args)
    train, test = train.to(device), test.to(device)
    n = train_images.shape[-1]
    label = f"{cfg.transform.name} on {cfg.dataset.name} ({task}, {dist} t in [{low:g}, {high:g}])"
    log.info("data: %s; %d train / %d test pairs of %d×%d images, %s interpolation", label, len(train), len(test), n, n, interpolation)

    m = cfg.model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rngs["init"].initial_seed()))
        model = LatentFlowModel(
            n, basis, encoder_widths=list(m.encoder_widths), t_widths=list(m.t_widths), patch=int(m.patch),
            channels=int(m.channels), activation=m.activation, alpha_init=float(m.alpha_init), generator=rngs["init"],
        ).to(device)
    log.info("model: %s basis (%d fields), %d parameters", basis, len(true_alpha), num_params(model))
    weights = {k: float(m.weights[k]) for k in LOSS_TERMS}
    order, detach_t = taylor_order(m.taylor_order, basis), bool(m.detach_t)
    warmup_steps = int(float(m.taylor_warmup) * int(cfg.trainer.max_steps)) if order == 0 else 0
    log.info("α-matching: %s", "exact exponential (RK4)" if order == 0 else f"Taylor polynomial of order {order}")
    true_on_device = true_alpha.float().to(device)
    batch_size = int(cfg.trainer.batch_size)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(train), (batch_size,), generator=rng).to(device)
        step_order = int(m.taylor_warmup_order) if trainer.result.steps < warmup_steps else order
        terms = model.losses(train.x0[idx], train.xt[idx], step_order, detach_t)
        return sum(weights[k] * v for k, v in terms.items())

    groups = [{"params": model.network_parameters()}, {"params": [model.alpha], "lr": float(m.alpha_lr)}]
    trainer = trainer_from_config(
        model, cfg, out_dir=out_dir, batch_rng=rngs["batches"], description=f"latent_symmetry: {cfg.transform.name}",
        monitor=lambda: {"generator_cos": coefficient_cos(model.unit_alpha(), true_on_device)}, param_groups=groups,
    )
    result = trainer.fit(step_loss)

    scores = evaluate(model, test, order)
    learned = oriented(model.unit_alpha().detach().double().cpu(), true_alpha)
    t_true, t_pred = test.t.double().cpu(), scores["t_pred"].double()
    a, b = affine_alignment(t_pred, t_true)
    aligned = a * t_pred + b
    t_w1 = wasserstein_1d(aligned, t_true)
    scaling, _ = true_coefficients({"scaling": 1.0}, basis)
    translation_x, _ = true_coefficients({"translation_x": 1.0}, basis)
    translation_y, _ = true_coefficients({"translation_y": 1.0}, basis)
    metrics = {
        "generator_cos": coefficient_cos(learned, true_alpha),
        "scaling_component": abs(float(learned @ scaling)),
        "translation_component": float(torch.hypot(learned @ translation_x, learned @ translation_y)),
        "t_r2": r2_score(t_pred, t_true),
        "t_w1": t_w1,
        "t_w1_rel": t_w1 / float(t_true.std()),
        "recon_mse": scores["recon_mse"],
        "pixel_mse": scores["pixel_mse"],
        "alpha_match_mse": scores["alpha_match_mse"],
        "num_fields": len(true_alpha),
        "num_params": num_params(model),
        "final_train_loss": result.final_loss,
        "train_seconds": result.train_seconds,
        "steps": result.steps,
    }
    write_coefficients(out_dir / "coefficients.csv", basis, learned, true_alpha)
    torch.save(
        {"basis": basis, "fields": field_basis_names(basis), "alpha": learned, "true_alpha": true_alpha, "t_true": t_true,
         "t_pred": t_pred, "t_aligned": aligned, "alignment": (a, b), "mean": mean, "std": std},
        out_dir / PREDICTIONS_FILE,
    )
    save_figure(plot_latent_flow(learned, true_alpha, basis, int(m.patch), f"{label}: |cos| {metrics['generator_cos']:.4f}"), out_dir, "latent_flow", pdf=True)
    centres = mode_centres(dist, low, high) if dist != "uniform" else [low, high]
    save_figure(plot_t_histogram(aligned, t_true, centres, f"{cfg.transform.name}, {dist}: R² {metrics['t_r2']:.3f}, W1 {metrics['t_w1']:.3g}"), out_dir, "t_histogram", pdf=True)
    save_figure(plot_reconstructions(model, test, float(model.log_pixel_scale.detach().exp()), order), out_dir, "reconstructions")
    return metrics
