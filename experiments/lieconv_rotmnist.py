"""lieconv_rotmnist: LieConv (ImgLieResnet) on rotated MNIST, the LieConv paper's Table 1 protocol.

Data: 12,000 training / 50,000 test rotated digits (``lconv_cli.data.rotmnist``: the original
``mnist_rotation_new`` files when present under ``data.root``, else built from MNIST with seeded
angles); ``data.val_size`` of the 12,000 are held out (seeded) for model selection, as the paper's
10k / 2k split. Images are normalised with the official constants, average-pooled by ``data.pool``
(1: the official 28 × 28) and, in training, rotated by U[0, 2π) (``data.augment``). Model: ``ImageLieResNet`` over ``group=`` T2 | SO2 | RxSO2 | SE2 |
Trivial with the official ImgLieResnet settings (``conf/model/img_lieresnet.yaml``). Training:
Adam, batch 25, lr 3e-3, the LieConv cosine schedule.

Metrics: ``test_error`` (%, best-validation weights, on the test split), ``final_test_error`` (last
weights), ``val_error``, ``best_epoch``, ``num_params``, ``train_seconds``, ``train_images_per_second``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from lconv_cli.data.image_variants import rotate_images
from lconv_cli.data.rotmnist import MEAN, STD, make_rotated_mnist
from lconv_cli.errors import UserError
from lconv_cli.groups.point_groups import make_group
from lconv_cli.models import num_params
from lconv_cli.models.lieconv import ImageLieResNet
from lconv_cli.reporting.curves import plot_learning_curve
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.registry import register
from lconv_cli.train.evaluation import Finished, evaluating, finish_on_best
from lconv_cli.train.precision import full_precision, mixed_precision
from lconv_cli.train.seeding import built_with_seed_of, seeded_rngs
from lconv_cli.train.throughput import training_throughput
from lconv_cli.train.trainer import (
    BestModel,
    EpochSampler,
    RngState,
    TrainResult,
    epoch_sampler_from_config,
    trainer_from_config,
)

log = logging.getLogger(__name__)
IMAGE_SIZE, CROP_RADIUS = 28, 15.0  # the official grid: 648 pixels of the 28 × 28 inside radius 15
EVAL_BATCH = 100  # images per eval forward: larger batches only add memory (the neighbour gathers)
Images = tuple[
    torch.Tensor, torch.Tensor
]  # normalised images (N, 1, s, s) float32 (s = 28 / data.pool), labels (N,) int64


def image_size(cfg: DictConfig) -> int:
    """Side of the (pooled) digits: 28 / ``data.pool``."""
    pool = int(cfg.data.pool)
    if IMAGE_SIZE % pool:
        raise UserError(f"data.pool must divide {IMAGE_SIZE} (1, 2, 4, 7, 14 or 28); got {pool}")
    return IMAGE_SIZE // pool


def build_image_model(cfg: DictConfig) -> ImageLieResNet:
    """The official ImgLieResnet over ``group``; on pooled digits the grid and its crop radius shrink alike."""
    m = cfg.model
    pool = IMAGE_SIZE // image_size(cfg)
    group = make_group(
        str(cfg.group), 2, m.alpha
    )  # model.alpha, liftsamples: the group's own (conf/model/img_lieresnet.yaml)
    return ImageLieResNet(
        group,
        k=int(m.k),
        num_layers=int(m.num_layers),
        total_ds=float(m.total_ds),
        fill=float(m.fill),
        nbhd=int(m.nbhd),
        liftsamples=int(m.liftsamples),
        knn=bool(m.knn),
        bn=bool(m.bn),
        shared_neighbourhoods=bool(m.shared_neighbourhoods),
        lift_seed=int(cfg.seed),
        image_size=IMAGE_SIZE // pool,
        crop_radius=CROP_RADIUS / pool,
    )


@torch.no_grad()
def error_rate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Classification error (%) in eval mode."""
    if len(images) == 0:
        return math.nan
    with evaluating(model):
        wrong = sum(
            int((model(images[i : i + EVAL_BATCH]).argmax(1) != labels[i : i + EVAL_BATCH]).sum())
            for i in range(0, len(images), EVAL_BATCH)
        )
    return 100.0 * wrong / len(images)


def load_splits(cfg: DictConfig, device: torch.device) -> tuple[Images, Images, Images]:
    """(train, validation, test) on ``device``, normalised with the official constants (and average-pooled
    by ``data.pool``); the validation images are a seeded (``data.seed`` + 1) draw of ``data.val_size``
    from the 12,000 training ones."""
    splits, source = make_rotated_mnist(
        cfg.data.root, seed=int(cfg.data.seed), download=bool(cfg.data.download), verify=bool(cfg.data.verify)
    )
    train_x, train_y = splits["train"]
    test_x, test_y = splits["test"]
    split_rng = torch.Generator().manual_seed(int(cfg.data.seed) + 1)
    order = torch.randperm(len(train_x), generator=split_rng)
    val_idx, train_idx = order[: int(cfg.data.val_size)], order[int(cfg.data.val_size) :]
    if cfg.data.train_subset:
        train_idx = train_idx[: int(cfg.data.train_subset)]
    if cfg.data.test_subset:
        test_x, test_y = test_x[: int(cfg.data.test_subset)], test_y[: int(cfg.data.test_subset)]
    pool = IMAGE_SIZE // image_size(cfg)
    norm = lambda x: F.avg_pool2d((x - MEAN) / STD, pool).to(device)  # noqa: E731
    val_x, val_y = norm(train_x[val_idx]), train_y[val_idx].to(device)
    train_x, train_y = norm(train_x[train_idx]), train_y[train_idx].to(device)
    test_x, test_y = norm(test_x), test_y.to(device)
    log.info("data: %s; %d train / %d validation / %d test images", source, len(train_x), len(val_x), len(test_x))
    return (train_x, train_y), (val_x, val_y), (test_x, test_y)


def rotated(images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Normalised images (B, 1, s, s), each rotated (bilinear) by an angle drawn from U[0°, 360°) with ``rng``."""
    angles = 360.0 * torch.rand(len(images), generator=rng).to(images.device)
    return (rotate_images(images * STD + MEAN, angles, "bilinear") - MEAN) / STD


def train_image_model(
    cfg: DictConfig,
    model: ImageLieResNet,
    train: Images,
    val: Images,
    rngs: dict[str, torch.Generator],
    out_dir: Path,
) -> tuple[TrainResult, EpochSampler, BestModel]:
    """Cross-entropy on shuffled epochs of ``train`` (rotated by ``rngs["augment"]`` if ``data.augment``);
    after every epoch the validation error, and the weights with the lowest one kept (not yet loaded)."""
    (train_x, train_y), (val_x, val_y) = train, val
    sampler = epoch_sampler_from_config(cfg, len(train_x))
    best = BestModel(model)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = sampler.next_batch(rng).to(train_x.device)
        with full_precision(train_x.device):
            images = rotated(train_x[idx], rngs["augment"]) if cfg.data.augment else train_x[idx]
        return F.cross_entropy(model(images), train_y[idx])

    def monitor() -> dict[str, float]:
        error = error_rate(model, val_x, val_y)
        if math.isnan(error):
            return {}
        best.update(-error, trainer.result.steps)
        return {"val_error": error, "val_accuracy": 1 - error / 100}

    trainer = trainer_from_config(
        model,
        cfg,
        out_dir=out_dir,
        batch_rng=rngs["batches"],
        description=f"LieConv {model.group} on rotated MNIST",
        monitor=monitor,
        extra_state={"sampler": sampler, "best": best, "augment_rng": RngState(rngs["augment"])},
    )
    return trainer.fit(step_loss), sampler, best


def error_metrics(
    finished: Finished[float],
    result: TrainResult,
    sampler: EpochSampler,
    model: torch.nn.Module,
) -> dict[str, float]:
    """The run's metrics (module docstring) from the test errors of the kept and the last weights."""
    return {
        "test_error": finished.score,
        "final_test_error": finished.final_score,
        "val_error": -finished.best_score,
        "best_epoch": finished.kept_step / sampler.steps_per_epoch,
        "num_params": num_params(model),
        "steps": result.steps,
        "train_seconds": result.train_seconds,
        "train_images_per_second": training_throughput(result, sampler),
    }


@register("lieconv_rotmnist", mixed_precision=True)
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    image_size(cfg)  # a bad data.pool stops the run before any work
    train, val, (test_x, test_y) = load_splits(cfg, device)

    rngs = seeded_rngs(int(cfg.seed), "init", "batches", "augment")
    model = built_with_seed_of(rngs["init"], lambda: build_image_model(cfg).to(device))
    log.info(
        "ImgLieResnet, group %s: %d parameters; points per layer %s", model.group, num_params(model), model.point_counts
    )

    result, sampler, best = train_image_model(cfg, model, train, val, rngs, out_dir)
    with mixed_precision(cfg.trainer.precision, device):
        finished = finish_on_best(best, result, lambda: error_rate(model, test_x, test_y))
    best_epoch = finished.kept_step / sampler.steps_per_epoch
    figure = plot_learning_curve(result, sampler.steps_per_epoch, best_epoch, f"LieConv {model.group}")
    save_figure(figure, out_dir, "learning_curve")
    return error_metrics(finished, result, sampler, model)
