"""image_classification: plain / rotated / scrambled images, L-conv against CNN and FC (L-conv SI D).

Data: ``dataset=`` mnist | fashion_mnist | cifar10 | cifar100 from ``data.root`` (``$LCONV_DATA``),
``variant=`` plain | rotated | scrambled | rotated_scrambled, drawn from ``data.seed`` (one fixed
benchmark shared by every model and run seed); validation is a seeded ``data.val_fraction`` of
the official training split. Model: ``model=`` lconv | cnn | fc | gcn and the ``*_official``
presets. Training: cross-entropy, ``trainer.epochs`` epochs of shuffled mini-batches, validation
accuracy after every epoch; the weights with the best validation accuracy are kept.

Metrics: ``test_accuracy`` (best-validation weights, on the official test split), ``test_loss``,
``val_accuracy``, ``best_epoch``, ``final_test_accuracy`` (last weights), ``num_params``,
``num_train`` (images trained on), ``train_seconds`` and ``train_samples_per_second`` (optimisation only). Record: the
permutation, angles and validation indices in ``variant.pt``; figures of sample images and the
learning curve.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from lconv_cli.data.generators_file import generator_paths, load_generator_files, provenance
from lconv_cli.data.image_variants import ImageSplits, make_image_splits
from lconv_cli.data.pixel_pairs import TRANSFORMS, true_generators
from lconv_cli.errors import UserError
from lconv_cli.lie import derivative_operators_2d, grid_adjacency_2d, rotation_generator_2d
from lconv_cli.models import ConvClassifier, LConvClassifier, MLPClassifier, num_params
from lconv_cli.models.lconv import PARAMETRISATIONS
from lconv_cli.reporting.curves import plot_learning_curve
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.configuring import choose
from lconv_cli.runner.record import atomic_write_text
from lconv_cli.runner.registry import register
from lconv_cli.train.evaluation import Finished, evaluating, finish_on_best
from lconv_cli.train.seeding import built_with_seed_of, seeded_rngs
from lconv_cli.train.throughput import training_throughput
from lconv_cli.train.trainer import BestModel, EpochSampler, TrainResult, epoch_sampler_from_config, trainer_from_config

log = logging.getLogger(__name__)

ARCHITECTURES = ("lconv", "cnn", "fc")
FIXED_SOURCES = ("translation", "rotation", "adjacency", "oracle", "file")
FIXED_PARAMETRISATIONS = ("fixed", "fixed_low_rank")  # the L-conv parametrisations that read model.fixed_generators
VARIANT_FILE = "variant.pt"
EVAL_BATCH = 2048


def fixed_generators(
    source: str,
    image_shape: tuple[int, int, int],
    generators_path: str | list[str] | None,
    transforms: list[str] | None = None,
    permutation: torch.Tensor | None = None,
) -> torch.Tensor:
    """(k, d, d) float32 fixed generators on the H × W pixel grid.

    ``translation``: the SW derivatives ∂x, ∂y; ``rotation``: L_SW; ``adjacency``: the normalised
    grid adjacency (the GCN propagation matrix); these act on pixels in stored order, so a scrambled
    variant takes their geometry away. ``oracle``: the true SW generators of ``transforms``
    (:func:`lconv_cli.data.pixel_pairs.true_generators`, image_generators' units) in the variant's
    pixel order, ``permutation`` known: the reference discovered generators are measured against.
    ``file``: the top-level ``generators=``: one file (or run directory) or a list of them, concatenated.
    """
    _, height, width = image_shape
    if source == "file":
        if not generator_paths(generators_path):
            raise UserError(
                "model.fixed_generators=file needs generators=<generators file or run directory, or a list>"
            )
        return load_generator_files(generators_path, dim=height * width).float()
    if height != width:
        raise UserError(f"model.fixed_generators={source} needs square images; these are {height}×{width}")
    if source == "oracle":
        names = [choose(str(name), TRANSFORMS, "model.fixed_transforms") for name in transforms or []]
        if not names:
            raise UserError(
                "model.fixed_generators=oracle needs model.fixed_transforms (any of tx, ty, rotation, scale)"
            )
        return true_generators(names, height, permutation).float()
    if source == "translation":
        gens = torch.stack(derivative_operators_2d(height))
    elif source == "rotation":
        gens = rotation_generator_2d(height)[None]
    else:
        gens = grid_adjacency_2d(height)[None]
    return gens.float()


def build_classifier(
    model_cfg: DictConfig,
    image_shape: tuple[int, int, int],
    num_classes: int,
    generators_path: str | list[str] | None,
    permutation: torch.Tensor | None = None,
) -> torch.nn.Module:
    """The classifier named by ``model_cfg.arch`` (see ``conf/model/{lconv,cnn,fc,gcn}*.yaml``);
    ``permutation``: the variant's pixel permutation (None when not scrambled), for oracle generators."""
    arch = model_cfg.get("arch")
    if arch not in ARCHITECTURES:
        raise UserError(
            f"model={model_cfg.get('name')} is not an image classifier; choose one of lconv, lconv_official, cnn, "
            f"cnn_official, fc, fc_official, gcn"
        )
    if arch == "cnn":
        return ConvClassifier(
            image_shape,
            num_classes,
            channels=list(model_cfg.channels),
            kernel_size=model_cfg.kernel_size,
            padding=model_cfg.padding,
            pool=model_cfg.pool,
        )
    if arch == "fc":
        hidden = list(model_cfg.hidden)
        if model_cfg.get("pixel_multiple"):
            hidden.append(int(model_cfg.pixel_multiple) * image_shape[1] * image_shape[2])
        return MLPClassifier(image_shape, num_classes, hidden=hidden)
    fixed, count = None, int(model_cfg.num_generators)
    parametrisation = choose(model_cfg.parametrisation, PARAMETRISATIONS, "model.parametrisation")
    if parametrisation in FIXED_PARAMETRISATIONS:
        source = choose(model_cfg.fixed_generators, FIXED_SOURCES, "model.fixed_generators")
        transforms = model_cfg.get("fixed_transforms")
        fixed = fixed_generators(source, image_shape, generators_path, transforms, permutation)
        count = fixed.shape[0]
    return LConvClassifier(
        image_shape,
        num_classes,
        channels=list(model_cfg.channels),
        num_generators=count,
        parametrisation=parametrisation,
        rank=model_cfg.get("rank"),
        bias=model_cfg.bias,
        activation=model_cfg.activation,
        fixed_generators=fixed,
        head=model_cfg.head,
    )


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on a split, in eval mode, in chunks."""
    if len(images) == 0:
        return math.nan, math.nan
    correct, loss = 0, 0.0
    with evaluating(model):
        for start in range(0, len(images), EVAL_BATCH):
            logits = model(images[start : start + EVAL_BATCH])
            target = labels[start : start + EVAL_BATCH]
            correct += int((logits.argmax(1) == target).sum())
            loss += float(F.cross_entropy(logits, target, reduction="sum"))
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


def load_splits(cfg: DictConfig) -> ImageSplits:
    """The variant's train / validation / test splits (CPU), drawn from ``data.seed``."""
    return make_image_splits(
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


def record_splits(splits: ImageSplits, label: str, data_seed: int, out_dir: Path) -> None:
    """Save the variant's record (``variant.pt``) and the sample-image figure; log the split sizes."""
    torch.save(splits.record(), out_dir / VARIANT_FILE)
    log.info(
        "data: %s, %d train / %d validation / %d test images of shape %s (data seed %s)",
        label,
        len(splits.train_x),
        len(splits.val_x),
        len(splits.test_x),
        splits.image_shape,
        data_seed,
    )
    save_figure(plot_samples(splits, label), out_dir, "image_samples")


@dataclass
class LabelledImages:
    """Normalised images x (N, C, H, W) float32 and their labels y (N,) int64, on the run's device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)


def on_device(splits: ImageSplits, device: torch.device) -> tuple[LabelledImages, LabelledImages, LabelledImages]:
    """(train, validation, test) moved to ``device``."""
    return (
        LabelledImages(splits.train_x.to(device), splits.train_y.to(device)),
        LabelledImages(splits.val_x.to(device), splits.val_y.to(device)),
        LabelledImages(splits.test_x.to(device), splits.test_y.to(device)),
    )


def train_classifier(
    cfg: DictConfig,
    model: torch.nn.Module,
    train: LabelledImages,
    val: LabelledImages,
    batch_rng: torch.Generator,
    out_dir: Path,
    description: str,
) -> tuple[TrainResult, EpochSampler, BestModel]:
    """Cross-entropy on shuffled epochs of ``train``; after every epoch the validation accuracy, and
    the weights with the best one kept (in the returned BestModel, not yet loaded)."""
    sampler = epoch_sampler_from_config(cfg, len(train))
    best = BestModel(model)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = sampler.next_batch(rng).to(train.x.device)
        return F.cross_entropy(model(train.x[idx]), train.y[idx])

    def monitor() -> dict[str, float]:
        accuracy, loss = evaluate(model, val.x, val.y)
        if math.isnan(accuracy):
            return {}
        best.update(accuracy, trainer.result.steps)
        return {"val_accuracy": accuracy, "val_loss": loss}

    trainer = trainer_from_config(
        model,
        cfg,
        out_dir=out_dir,
        batch_rng=batch_rng,
        description=description,
        monitor=monitor,
        extra_state={"sampler": sampler, "best": best},
    )
    return trainer.fit(step_loss), sampler, best


def classification_metrics(
    finished: Finished[tuple[float, float]],
    result: TrainResult,
    sampler: EpochSampler,
    model: torch.nn.Module,
) -> dict[str, float]:
    """The run's metrics (module docstring) from the test scores of the kept and the last weights."""
    test_accuracy, test_loss = finished.score
    final_test_accuracy, _ = finished.final_score
    return {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "val_accuracy": finished.best_score,
        "best_epoch": finished.kept_step / sampler.steps_per_epoch,
        "final_test_accuracy": final_test_accuracy,
        "num_params": num_params(model),
        "num_train": sampler.size,
        "epochs": result.steps / sampler.steps_per_epoch,
        "steps": result.steps,
        "train_seconds": result.train_seconds,
        "train_samples_per_second": training_throughput(result, sampler),
    }


@register("image_classification")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    splits = load_splits(cfg)
    label = f"{cfg.dataset.name} {cfg.variant.name}"
    record_splits(splits, label, cfg.data.seed, out_dir)
    train, val, test = on_device(splits, device)

    rngs = seeded_rngs(int(cfg.seed), "init", "batches")
    num_classes, generators_path = int(cfg.dataset.num_classes), cfg.get("generators")
    model = built_with_seed_of(
        rngs["init"],
        lambda: build_classifier(cfg.model, splits.image_shape, num_classes, generators_path, splits.permutation).to(
            device
        ),
    )
    log.info("model %s: %d parameters", cfg.model.name, num_params(model))
    fixed = cfg.model.get("parametrisation") in FIXED_PARAMETRISATIONS
    if fixed and cfg.model.get("fixed_generators") == "file":  # name the discovery runs these generators came from
        used = [provenance(path) for path in generator_paths(generators_path)]
        record = {"sources": used}
        atomic_write_text(out_dir / "generators_source.json", json.dumps(record, indent=2, default=str) + "\n")
        for source in used:
            log.info("fixed generators from %s (discovery run %s)", source["file"], source["discovery_run"])

    description = f"{cfg.model.name} on {label}"
    result, sampler, best = train_classifier(cfg, model, train, val, rngs["batches"], out_dir, description)
    finished = finish_on_best(best, result, lambda: evaluate(model, test.x, test.y))
    best_epoch = finished.kept_step / sampler.steps_per_epoch
    figure = plot_learning_curve(result, sampler.steps_per_epoch, best_epoch, description)
    save_figure(figure, out_dir, "learning_curve")
    return classification_metrics(finished, result, sampler, model)
