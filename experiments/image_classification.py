"""image_classification: plain / rotated / scrambled images, L-conv against CNN and FC (L-conv SI D).

Data: ``dataset=`` mnist | fashion_mnist | cifar10 | cifar100 from ``data.root`` (``$LCONV_DATA``),
``variant=`` plain | rotated | scrambled | rotated_scrambled, drawn from ``data.seed`` (one fixed
benchmark shared by every model and run seed); validation is a seeded ``data.val_fraction`` of
the official training split. Model: ``model=`` lconv | cnn | fc | gcn and the ``*_official``
presets. Training: cross-entropy, ``trainer.epochs`` epochs of shuffled mini-batches, validation
accuracy after every epoch; the weights with the best validation accuracy are kept.

Metrics: ``test_accuracy`` (best-validation weights, on the official test split), ``test_loss``,
``val_accuracy``, ``best_epoch``, ``final_test_accuracy`` (last weights), ``num_params``,
``train_seconds`` and ``train_samples_per_second`` (optimisation only). Record: the
permutation, angles and validation indices in ``variant.pt``; figures of sample images and the
learning curve.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from lconv_cli.runner.configuring import choose
from lconv_cli.data.image_variants import ImageSplits, make_image_splits
from lconv_cli.errors import UserError
from lconv_cli.reporting.figures import save_figure
from lconv_cli.data.generators_file import load_generators
from lconv_cli.lie import derivative_operators_2d, grid_adjacency_2d, rotation_generator_2d
from lconv_cli.models import ConvClassifier, LConvClassifier, MLPClassifier, num_params
from lconv_cli.runner.registry import register
from lconv_cli.train.seeding import seeded_generators
from lconv_cli.train.trainer import BestModel, TrainResult, epoch_sampler_from_config, trainer_from_config

log = logging.getLogger(__name__)

ARCHITECTURES = ("lconv", "cnn", "fc")
FIXED_SOURCES = ("translation", "rotation", "adjacency", "file")
VARIANT_FILE = "variant.pt"
EVAL_BATCH = 2048


def fixed_generators(source: str, image_shape: tuple[int, int, int], generators_path: str | None) -> torch.Tensor:
    """(k, d, d) float32 fixed generators on the H × W pixel grid (in stored pixel order).

    ``translation``: the SW derivatives ∂x, ∂y; ``rotation``: L_SW; ``adjacency``: the normalised
    grid adjacency (the GCN propagation matrix); ``file``: the top-level ``generators=`` file.
    """
    _, height, width = image_shape
    if source == "file":
        if generators_path is None:
            raise UserError("model.fixed_generators=file needs generators=<generators file or run directory>")
        return load_generators(generators_path, dim=height * width)["generators"].float()
    if height != width:
        raise UserError(f"model.fixed_generators={source} needs square images; these are {height}×{width}")
    if source == "translation":
        gens = torch.stack(derivative_operators_2d(height))
    elif source == "rotation":
        gens = rotation_generator_2d(height)[None]
    else:
        gens = grid_adjacency_2d(height)[None]
    return gens.float()


def build_classifier(model_cfg: DictConfig, image_shape: tuple[int, int, int], num_classes: int, generators_path: str | None) -> torch.nn.Module:
    """The classifier named by ``model_cfg.arch`` (see ``conf/model/{lconv,cnn,fc,gcn}*.yaml``)."""
    arch = model_cfg.get("arch")
    if arch not in ARCHITECTURES:
        raise UserError(
            f"model={model_cfg.get('name')} is not an image classifier; choose one of lconv, lconv_official, cnn, "
            f"cnn_official, fc, fc_official, gcn"
        )
    if arch == "cnn":
        return ConvClassifier(
            image_shape, num_classes, channels=list(model_cfg.channels), kernel_size=model_cfg.kernel_size,
            padding=model_cfg.padding, pool=model_cfg.pool,
        )
    if arch == "fc":
        hidden = list(model_cfg.hidden)
        if model_cfg.get("pixel_multiple"):
            hidden.append(int(model_cfg.pixel_multiple) * image_shape[1] * image_shape[2])
        return MLPClassifier(image_shape, num_classes, hidden=hidden)
    fixed, count = None, int(model_cfg.num_generators)
    if model_cfg.parametrisation == "fixed":
        source = choose(model_cfg.fixed_generators, FIXED_SOURCES, "model.fixed_generators")
        fixed = fixed_generators(source, image_shape, generators_path)
        count = fixed.shape[0]
    return LConvClassifier(
        image_shape, num_classes, channels=list(model_cfg.channels), num_generators=count,
        parametrisation=model_cfg.parametrisation, rank=model_cfg.get("rank"), bias=model_cfg.bias,
        activation=model_cfg.activation, fixed_generators=fixed, head=model_cfg.head,
    )


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on a split, in eval mode, in chunks."""
    if len(images) == 0:
        return math.nan, math.nan
    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(images), EVAL_BATCH):
        logits = model(images[start : start + EVAL_BATCH])
        target = labels[start : start + EVAL_BATCH]
        correct += int((logits.argmax(1) == target).sum())
        loss += float(F.cross_entropy(logits, target, reduction="sum"))
    model.train(was_training)
    return correct / len(images), loss / len(images)


def plot_samples(splits: ImageSplits, title: str, count: int = 8):
    """The first training images as the model sees them (after the variant), with their labels."""
    fig, axes = plt.subplots(1, count, figsize=(1.6 * count, 2.0))
    mean, std = splits.mean[:, None, None], splits.std[:, None, None]
    for ax, image, label in zip(axes, splits.train_x[:count].cpu(), splits.train_y[:count].cpu()):
        picture = (image * std + mean).clamp(0, 1)
        ax.imshow(picture[0] if picture.shape[0] == 1 else picture.permute(1, 2, 0), cmap="gray", vmin=0, vmax=1)
        ax.set_title(str(int(label)), fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_learning_curve(
    result: TrainResult, steps_per_epoch: int, best_epoch: float, title: str,
    metric: str = "val_accuracy", label: str = "validation accuracy", log_scale: bool = False,
):
    """Training loss per step and the monitored ``metric`` per epoch; the kept epoch marked."""
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


@register("image_classification")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    splits = make_image_splits(
        cfg.dataset.name,
        cfg.data.root,
        cfg.variant.name,
        seed=int(cfg.data.seed),
        max_angle_deg=float(cfg.variant.get("max_angle_deg", 0.0)),
        interpolation=cfg.variant.get("interpolation", "bicubic"),
        val_fraction=float(cfg.data.val_fraction),
        train_subset=cfg.data.train_subset,
        test_subset=cfg.data.test_subset,
        download=bool(cfg.data.download),
        verify=bool(cfg.data.verify),
    )
    torch.save(splits.record(), out_dir / VARIANT_FILE)
    label = f"{cfg.dataset.name} {cfg.variant.name}"
    log.info(
        "data: %s, %d train / %d validation / %d test images of shape %s (data seed %s)",
        label, len(splits.train_x), len(splits.val_x), len(splits.test_x), splits.image_shape, cfg.data.seed,
    )
    save_figure(plot_samples(splits, label), out_dir, "image_samples")
    train_x, train_y = splits.train_x.to(device), splits.train_y.to(device)
    val_x, val_y = splits.val_x.to(device), splits.val_y.to(device)
    test_x, test_y = splits.test_x.to(device), splits.test_y.to(device)

    rngs = seeded_generators(int(cfg.seed), "init", "batches")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rngs["init"].initial_seed()))
        model = build_classifier(cfg.model, splits.image_shape, int(cfg.dataset.num_classes), cfg.get("generators")).to(device)
    log.info("model %s: %d parameters", cfg.model.name, num_params(model))

    sampler = epoch_sampler_from_config(cfg, len(train_x))
    best = BestModel(model)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = sampler.next_batch(rng).to(device)
        return F.cross_entropy(model(train_x[idx]), train_y[idx])

    def monitor() -> dict[str, float]:
        accuracy, loss = evaluate(model, val_x, val_y)
        if math.isnan(accuracy):
            return {}
        best.update(accuracy, trainer.result.steps)
        return {"val_accuracy": accuracy, "val_loss": loss}

    trainer = trainer_from_config(
        model, cfg, out_dir=out_dir, batch_rng=rngs["batches"], description=f"{cfg.model.name} on {label}",
        monitor=monitor, extra_state={"sampler": sampler, "best": best},
    )
    result = trainer.fit(step_loss)

    final_test_accuracy, _ = evaluate(model, test_x, test_y)
    kept_step, val_accuracy = result.steps, math.nan  # without a validation split the last weights are kept
    if best.weights is not None:
        best.restore()
        kept_step, val_accuracy = best.step, best.score
    test_accuracy, test_loss = evaluate(model, test_x, test_y)
    best_epoch = kept_step / sampler.steps_per_epoch
    full_epochs, rest = divmod(result.steps, sampler.steps_per_epoch)
    trained_samples = full_epochs * len(train_x) + min(rest * sampler.batch_size, len(train_x))
    save_figure(plot_learning_curve(result, sampler.steps_per_epoch, best_epoch, f"{cfg.model.name} on {label}"), out_dir, "learning_curve")
    return {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "val_accuracy": val_accuracy,
        "best_epoch": best_epoch,
        "final_test_accuracy": final_test_accuracy,
        "num_params": num_params(model),
        "epochs": result.steps / sampler.steps_per_epoch,
        "steps": result.steps,
        "train_seconds": result.train_seconds,
        "train_samples_per_second": trained_samples / result.train_seconds if result.train_seconds > 0 else math.nan,
    }
