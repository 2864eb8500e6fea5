"""lieconv_qm9: LieConv (MolecLieResNet) regression of one QM9 property (LieConv paper Table 2).

Data: QM9 from the PyPI package ``qm9pack`` (``lconv_cli.data.qm9``: parsed once, cached under
``data.cache_dir``), per-atom reference energies subtracted from U0, U, H, G, Cv (and zpve),
energies in meV; the seeded Cormorant split 100,000 / 17,748 / 13,083; ``data.target`` one of
alpha, gap, homo, lumo, mu, Cv, G, H, r2, U, U0, zpve. Targets are standardised with the training
mean and std; the loss is L1. Training batches are augmented (``data.augment``) by a Haar-random
rotation and a N(0, 0.5²) translation; SO3/SE3 runs recentre the coordinates (``data.recenter``).
Model: ``MoleculeLieResNet`` over ``group=`` T3 | SO3 | SE3 | Trivial, with the official
per-group neighbourhood settings (``conf/model/molec_lieresnet.yaml``).

Metrics: ``test_mae`` (target units, best-validation weights, on the test split), ``baseline_mae``
(predicting the training mean, on the test split), ``mae_ratio`` (baseline / test), ``val_mae``,
``final_test_mae``, ``num_params``, ``train_seconds``, ``train_molecules_per_second``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from omegaconf import DictConfig

from lconv_cli.data.qm9 import TARGET_NAMES, TARGETS, TargetScaler, atom_features, load_qm9, qm9_split
from lconv_cli.groups.lie_groups import uniform_rotation_3d
from lconv_cli.groups.point_groups import make_group
from lconv_cli.models import num_params
from lconv_cli.models.lieconv import MoleculeLieResNet
from lconv_cli.reporting.curves import plot_learning_curve
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.configuring import choose
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
EVAL_BATCH = 250


class Molecules:
    """Padded QM9 tensors for a subset of molecules; ``batch(idx)`` trims to the batch's largest molecule."""

    def __init__(
        self,
        data: dict,
        indices: torch.Tensor,
        target: int,
        scale: tuple[torch.Tensor, torch.Tensor] | None,
        device,
    ) -> None:
        self.positions = data["positions"][indices].to(device)
        self.charges = data["charges"][indices].to(device)
        self.num_atoms = data["num_atoms"][indices].to(device)
        self.targets = data["targets"][indices, target].to(device)
        if scale is not None:  # recentre: subtract the global mean position, divide by the global coordinate std
            mean, std = scale
            self.positions = torch.where((self.charges > 0)[..., None], (self.positions - mean) / std, self.positions)

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(positions (B, n, 3), features (B, n, 15), mask (B, n), targets (B,)) with n the batch's max atom count."""
        n = int(self.num_atoms[idx].max())
        charges = self.charges[idx, :n]
        return self.positions[idx, :n], atom_features(charges), charges > 0, self.targets[idx]


def coordinate_scale(data: dict, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean atom position and coordinate std over a split's atoms (the official ``recenter``)."""
    mask = data["charges"][indices] > 0
    atoms = data["positions"][indices][mask].double()
    return atoms.mean(0).float(), atoms.std().float()


def augment(positions: torch.Tensor, mask: torch.Tensor, rng: torch.Generator, shift_std: float) -> torch.Tensor:
    """Each molecule rotated by a Haar-random rotation and shifted by N(0, shift_std²) per axis."""
    batch = positions.shape[0]
    rotation = uniform_rotation_3d(torch.rand(batch, 3, generator=rng)).to(positions)
    shift = shift_std * torch.randn(batch, 1, 3, generator=rng).to(positions)
    return torch.where(mask[..., None], positions @ rotation.transpose(1, 2) + shift, positions)


@torch.no_grad()
def mean_absolute_error(model: torch.nn.Module, molecules: Molecules, scaler: TargetScaler) -> float:
    """MAE in target units, in eval mode."""
    if len(molecules) == 0:
        return math.nan
    total = 0.0
    with evaluating(model):
        for start in range(0, len(molecules), EVAL_BATCH):
            idx = torch.arange(start, min(start + EVAL_BATCH, len(molecules)), device=molecules.targets.device)
            positions, features, mask, target = molecules.batch(idx)
            prediction = scaler.unstandardize(model(positions, features, mask).double())
            total += float((prediction - target).abs().sum())
    return total / len(molecules)


def subset_split(cfg: DictConfig, num_molecules: int) -> dict[str, torch.Tensor]:
    """The seeded Cormorant split's index tensors, each cut to ``data.<split>_subset`` when set."""
    split = qm9_split(num_molecules, seed=int(cfg.data.split_seed))
    sizes = (("train", cfg.data.train_subset), ("valid", cfg.data.valid_subset), ("test", cfg.data.test_subset))
    for name, size in sizes:
        if size:
            split[name] = split[name][: int(size)]
    return split


def load_molecules(cfg: DictConfig, target: int, group_name: str, device) -> tuple[Molecules, Molecules, Molecules]:
    """(train, valid, test) molecules with target column ``target``, recentred when ``data.recenter``."""
    data = load_qm9(cfg.data.cache_dir)
    split = subset_split(cfg, len(data["targets"]))
    recenter = bool(cfg.data.recenter)  # the group's own unless set (conf/data/qm9.yaml)
    scale = coordinate_scale(data, split["train"]) if recenter else None
    train, valid, test = (Molecules(data, split[s], target, scale, device) for s in ("train", "valid", "test"))
    return train, valid, test


def build_molecule_model(cfg: DictConfig, group_name: str) -> MoleculeLieResNet:
    """MolecLieResNet over ``group_name`` with the official per-group settings (``conf/model/molec_lieresnet.yaml``)."""
    m = cfg.model
    return MoleculeLieResNet(
        make_group(group_name, 3, m.alpha),
        k=int(m.k),
        num_layers=int(m.num_layers),
        nbhd=int(m.nbhd),
        fill=float(m.fill),
        liftsamples=int(m.liftsamples),
        knn=bool(m.knn),
        bn=bool(m.bn),
        recompute=bool(m.recompute),
    )


def train_molecule_model(
    cfg: DictConfig,
    model: MoleculeLieResNet,
    train: Molecules,
    valid: Molecules,
    scaler: TargetScaler,
    rngs: dict[str, torch.Generator],
    out_dir: Path,
    description: str,
) -> tuple[TrainResult, EpochSampler, BestModel]:
    """L1 loss on standardised targets over shuffled epochs (augmented from ``rngs["augment"]`` if
    ``data.augment``); after every epoch the validation MAE, and the weights with the lowest kept (not yet loaded)."""
    sampler = epoch_sampler_from_config(cfg, len(train))
    best = BestModel(model)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = sampler.next_batch(rng).to(train.targets.device)
        positions, features, mask, y = train.batch(idx)
        if cfg.data.augment:
            with full_precision(positions.device):
                positions = augment(positions, mask, rngs["augment"], float(cfg.data.shift_std))
        prediction = model(positions, features, mask)
        return (prediction - scaler.standardize(y).to(prediction.dtype)).abs().mean()

    def monitor() -> dict[str, float]:
        mae = mean_absolute_error(model, valid, scaler)
        if math.isnan(mae):
            return {}
        best.update(-mae, trainer.result.steps)
        return {"val_mae": mae}

    trainer = trainer_from_config(
        model,
        cfg,
        out_dir=out_dir,
        batch_rng=rngs["batches"],
        description=description,
        monitor=monitor,
        extra_state={"sampler": sampler, "best": best, "augment_rng": RngState(rngs["augment"])},
    )
    return trainer.fit(step_loss), sampler, best


def mae_metrics(
    finished: Finished[float],
    result: TrainResult,
    sampler: EpochSampler,
    model: torch.nn.Module,
    test: Molecules,
    scaler: TargetScaler,
) -> dict[str, float]:
    """The run's metrics (module docstring) from the test MAEs of the kept and the last weights."""
    test_mae = finished.score
    baseline_mae = float((test.targets - scaler.mean).abs().mean())
    return {
        "test_mae": test_mae,
        "baseline_mae": baseline_mae,
        "mae_ratio": baseline_mae / test_mae if test_mae > 0 else math.nan,
        "val_mae": -finished.best_score,
        "final_test_mae": finished.final_score,
        "num_params": num_params(model),
        "steps": result.steps,
        "train_seconds": result.train_seconds,
        "train_molecules_per_second": training_throughput(result, sampler),
    }


@register("lieconv_qm9", mixed_precision=True)
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    target_name = choose(cfg.data.target, TARGET_NAMES, "data.target")
    target = TARGET_NAMES.index(target_name)
    unit = TARGETS[target].unit
    group_name = str(cfg.group)
    train, valid, test = load_molecules(cfg, target, group_name, device)
    scaler = TargetScaler.fit(train.targets.cpu())
    log.info(
        "QM9 %s (%s): %d train / %d valid / %d test molecules; train mean %.4g, std %.4g",
        target_name,
        unit,
        len(train),
        len(valid),
        len(test),
        scaler.mean,
        scaler.std,
    )

    rngs = seeded_rngs(int(cfg.seed), "init", "batches", "augment")
    model = built_with_seed_of(rngs["init"], lambda: build_molecule_model(cfg, group_name).to(device))
    log.info("MolecLieResNet, group %s: %d parameters", model.group, num_params(model))

    description = f"LieConv {model.group} on QM9 {target_name}"
    result, sampler, best = train_molecule_model(cfg, model, train, valid, scaler, rngs, out_dir, description)
    with mixed_precision(cfg.trainer.precision, device):
        finished = finish_on_best(best, result, lambda: mean_absolute_error(model, test, scaler))
    kept_epoch = finished.kept_step / sampler.steps_per_epoch
    title = f"LieConv {model.group}, QM9 {target_name}"
    figure = plot_learning_curve(
        result,
        sampler.steps_per_epoch,
        kept_epoch,
        title,
        metric="val_mae",
        label=f"validation MAE ({unit})",
        log_scale=True,
    )
    save_figure(figure, out_dir, "learning_curve")
    return mae_metrics(finished, result, sampler, model, test, scaler)
