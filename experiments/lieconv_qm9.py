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

from lconv_cli.runner.configuring import choose
from lconv_cli.data.qm9 import TARGET_NAMES, TARGETS, TargetScaler, atom_features, load_qm9, qm9_split
from lconv_cli.experiments.image_classification import plot_learning_curve
from lconv_cli.experiments.lieconv_rotmnist import group_setting
from lconv_cli.reporting.figures import save_figure
from lconv_cli.groups.lie_groups import uniform_rotation_3d
from lconv_cli.groups.point_groups import make_group
from lconv_cli.models import num_params
from lconv_cli.models.lieconv import MoleculeLieResNet
from lconv_cli.runner.registry import register
from lconv_cli.train.seeding import seeded_generators
from lconv_cli.train.trainer import BestModel, GeneratorState, epoch_sampler_from_config, trainer_from_config

log = logging.getLogger(__name__)
EVAL_BATCH = 250


class Molecules:
    """Padded QM9 tensors for a subset of molecules; ``batch(idx)`` trims to the batch's largest molecule."""

    def __init__(self, data: dict, indices: torch.Tensor, target: int, scale: tuple[torch.Tensor, torch.Tensor] | None, device) -> None:
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


def augment(positions: torch.Tensor, mask: torch.Tensor, generator: torch.Generator, shift_std: float) -> torch.Tensor:
    """Each molecule rotated by a Haar-random rotation and shifted by N(0, shift_std²) per axis."""
    batch = positions.shape[0]
    rotation = uniform_rotation_3d(torch.rand(batch, 3, generator=generator)).to(positions)
    shift = shift_std * torch.randn(batch, 1, 3, generator=generator).to(positions)
    return torch.where(mask[..., None], positions @ rotation.transpose(1, 2) + shift, positions)


@torch.no_grad()
def mean_absolute_error(model: torch.nn.Module, molecules: Molecules, scaler: TargetScaler) -> float:
    """MAE in target units, in eval mode."""
    if len(molecules) == 0:
        return math.nan
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(molecules), EVAL_BATCH):
        idx = torch.arange(start, min(start + EVAL_BATCH, len(molecules)), device=molecules.targets.device)
        positions, features, mask, target = molecules.batch(idx)
        prediction = scaler.unstandardize(model(positions, features, mask).double())
        total += float((prediction - target).abs().sum())
    model.train(was_training)
    return total / len(molecules)


@register("lieconv_qm9")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    target_name = choose(cfg.data.target, TARGET_NAMES, "data.target")
    target = TARGET_NAMES.index(target_name)
    unit = TARGETS[target].unit
    group_name = str(cfg.group)
    data = load_qm9(cfg.data.cache_dir)
    split = qm9_split(len(data["targets"]), seed=int(cfg.data.split_seed))
    for name, size in (("train", cfg.data.train_subset), ("valid", cfg.data.valid_subset), ("test", cfg.data.test_subset)):
        if size:
            split[name] = split[name][: int(size)]
    recenter = group_setting(cfg.data, "recenter", group_name, False)
    scale = coordinate_scale(data, split["train"]) if recenter else None
    train, valid, test = (Molecules(data, split[s], target, scale, device) for s in ("train", "valid", "test"))
    scaler = TargetScaler.fit(train.targets.cpu())
    log.info("QM9 %s (%s): %d train / %d valid / %d test molecules; train mean %.4g, std %.4g",
             target_name, unit, len(train), len(valid), len(test), scaler.mean, scaler.std)

    m = cfg.model
    rngs = seeded_generators(int(cfg.seed), "init", "batches", "augment")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rngs["init"].initial_seed()))
        model = MoleculeLieResNet(
            make_group(group_name, 3, group_setting(m, "alpha", group_name)), k=int(m.k), num_layers=int(m.num_layers),
            nbhd=int(group_setting(m, "nbhd", group_name, 100)), fill=float(group_setting(m, "fill", group_name, 1.0)),
            liftsamples=int(group_setting(m, "liftsamples", group_name, 1)), knn=bool(m.knn), bn=bool(m.bn),
        ).to(device)
    log.info("MolecLieResNet, group %s: %d parameters", model.group, num_params(model))

    sampler = epoch_sampler_from_config(cfg, len(train))
    best = BestModel(model)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = sampler.next_batch(rng).to(device)
        positions, features, mask, y = train.batch(idx)
        if cfg.data.augment:
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
        model, cfg, out_dir=out_dir, batch_rng=rngs["batches"], description=f"LieConv {model.group} on QM9 {target_name}",
        monitor=monitor, extra_state={"sampler": sampler, "best": best, "augment_rng": GeneratorState(rngs["augment"])},
    )
    result = trainer.fit(step_loss)
    final_test_mae = mean_absolute_error(model, test, scaler)
    val_mae, test_mae = math.nan, final_test_mae
    if best.weights is not None:
        val_mae = -best.score
        if best.step != result.steps:  # the kept weights differ from the last ones: score them too
            best.restore()
            test_mae = mean_absolute_error(model, test, scaler)
    baseline_mae = float((test.targets - scaler.mean).abs().mean())
    kept_epoch = (best.step if best.weights is not None else result.steps) / sampler.steps_per_epoch
    figure = plot_learning_curve(result, sampler.steps_per_epoch, kept_epoch, f"LieConv {model.group}, QM9 {target_name}",
                                 metric="val_mae", label=f"validation MAE ({unit})", log_scale=True)
    save_figure(figure, out_dir, "learning_curve")
    trained = result.steps * sampler.batch_size
    return {
        "test_mae": test_mae,
        "baseline_mae": baseline_mae,
        "mae_ratio": baseline_mae / test_mae if test_mae > 0 else math.nan,
        "val_mae": val_mae,
        "final_test_mae": final_test_mae,
        "num_params": num_params(model),
        "steps": result.steps,
        "train_seconds": result.train_seconds,
        "train_molecules_per_second": trained / result.train_seconds if result.train_seconds > 0 else math.nan,
    }
