"""lieconv_springs: learning n-body spring dynamics, and the conservation laws each model keeps
(LieConv paper §6, Figures 6–8).

Data: ``lconv_cli.data.springs`` (6 bodies in 2D, RK4 in float64, cached). Each training example
is one system's random 5-step chunk; the loss is the MSE of the model's RK4 rollout of that chunk
from its first state (``model=`` hlieresnet with ``group=`` T2 | SO2 | Trivial, or the baselines fc,
hfc, ogn, hogn; ``lconv_cli.models.dynamics``). The weights with the best validation rollout MSE are
kept.

Metrics (test split): ``rollout_mse`` (5-step chunks, float32 as trained); on long rollouts of
``evaluation.long_systems`` systems from t = 0 over ``data.long_steps`` steps, integrated in
``evaluation.dtype`` (float64: the same precision as the ground truth): ``long_rollout_rel_err``
(mean over steps and systems of ‖ẑ − z‖/(‖ẑ‖ + ‖z‖)), ``energy_rel_err`` (the same for the true
energy of the predicted states against the initial energy), ``linear_momentum_drift`` and
``angular_momentum_drift`` (mean over systems of the largest relative drift along the rollout,
``lconv_cli.physics.hamiltonian.momentum_drift``), ``linear_momentum_rate`` and ``angular_momentum_rate`` (the
same for the rate of change of the momenta under the model's vector field at the rollout's states,
``lconv_cli.physics.hamiltonian.momentum_rates``: conservation in continuous time, without the integrator),
and ``true_*`` the same quantities for the ground-truth RK4 trajectories and field: the floor. RK4 keeps linear
invariants to rounding but not quadratic ones, so the angular momentum floor is the integrator's truncation error.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig

from lconv_cli.data.springs import SpringSettings, SpringSplit, load_split
from lconv_cli.errors import UserError
from lconv_cli.groups.point_groups import make_group
from lconv_cli.models import num_params
from lconv_cli.models.dynamics import (
    DynamicsModel,
    FCDynamics,
    GraphDynamics,
    HamiltonianFC,
    HamiltonianGraph,
    HamiltonianLieResNet,
)
from lconv_cli.physics.hamiltonian import (
    angular_momentum,
    integrate,
    linear_momentum,
    momenta,
    momentum_rates,
    positions,
    relative_error,
    spring_hamiltonian,
    spring_vector_field,
)
from lconv_cli.reporting.curves import plot_learning_curve
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.configuring import choose
from lconv_cli.runner.registry import register
from lconv_cli.train.evaluation import evaluating, finish_on_best
from lconv_cli.train.seeding import built_with_seed_of, seeded_rngs
from lconv_cli.train.throughput import training_throughput
from lconv_cli.train.trainer import BestModel, EpochSampler, TrainResult, epoch_sampler_from_config, trainer_from_config

log = logging.getLogger(__name__)
SPRING_GROUPS = ("T2", "SO2", "Trivial")
CURVES_FILE = "rollout_curves.json"


def build_model(model_cfg: DictConfig, group: str, num_bodies: int) -> DynamicsModel:
    """The dynamics model named ``model_cfg.name`` (hlieresnet over ``group``, or a baseline)."""
    name = choose(model_cfg.name, ("hlieresnet", "fc", "hfc", "ogn", "hogn"), "model")
    if name == "hlieresnet":
        group = choose({g.lower(): g for g in SPRING_GROUPS}.get(str(group).lower(), group), SPRING_GROUPS, "group")
        point_group = make_group(group, 2, model_cfg.alpha)
        return HamiltonianLieResNet(
            point_group, k=int(model_cfg.k), num_layers=int(model_cfg.num_layers), center=bool(model_cfg.center)
        )
    if name in ("fc", "hfc"):
        if model_cfg.get("pixel_multiple") is not None:
            raise UserError("model.pixel_multiple is for images; set it to null for lieconv_springs")
        cls = FCDynamics if name == "fc" else HamiltonianFC
        return cls(num_bodies, 2, [int(h) for h in model_cfg.hidden])
    cls = GraphDynamics if name == "ogn" else HamiltonianGraph
    return cls(2, int(model_cfg.hidden), int(model_cfg.num_layers))


def model_label(cfg: DictConfig) -> str:
    """e.g. ``HLieResNet(T2)`` or ``HOGN``."""
    name = str(cfg.model.name)
    return f"HLieResNet({cfg.group})" if name == "hlieresnet" else name.upper()


def rollout(model: DynamicsModel, z0: torch.Tensor, params: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """The model's RK4 trajectory: z0 (B, 2, n, d), params (B, n, 2), times (T,) → (B, T, 2, n, d)."""
    return integrate(lambda z: model(z, params), z0, times)


def rollout_mse(model: DynamicsModel, split: SpringSplit, times: torch.Tensor, batch_size: int, device) -> float:
    """Mean squared error of the rollouts of every chunk (steps 1…S, every state component)."""
    if len(split) == 0:
        return math.nan
    total = 0.0
    dtype = next(model.parameters()).dtype
    with torch.no_grad(), evaluating(model):
        for start in range(0, len(split), batch_size):
            chunk = split.chunks[start : start + batch_size].to(device, dtype)
            params = split.params[start : start + batch_size].to(device, dtype)
            predicted = rollout(model, chunk[:, 0], params, times.to(device, dtype))
            total += float((predicted[:, 1:] - chunk[:, 1:]).pow(2).mean(tuple(range(1, chunk.dim()))).sum())
    return total / len(split)


def long_rollouts(
    model: DynamicsModel,
    split: SpringSplit,
    times: torch.Tensor,
    count: int,
    batch_size: int,
    device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rollouts from t = 0 of the first ``count`` systems, in the model's dtype, and the model's
    vector field along them → (trajectories, dz/dt), both (count, T, 2, n, d) float64 on the CPU."""
    dtype = next(model.parameters()).dtype
    states, fields = [], []
    with torch.no_grad():
        for start in range(0, count, batch_size):
            stop = min(count, start + batch_size)
            z0 = split.long[start:stop, 0].to(device, dtype)
            params = split.params[start:stop].to(device, dtype)
            trajectory = rollout(model, z0, params, times.to(device, dtype))
            steps = trajectory.shape[1]
            field = model(trajectory.flatten(0, 1), params.repeat_interleave(steps, 0)).unflatten(0, (-1, steps))
            states.append(trajectory.cpu().double())
            fields.append(field.cpu().double())
    return torch.cat(states), torch.cat(fields)


def trajectory_errors(
    predicted: torch.Tensor,
    true: torch.Tensor,
    masses: torch.Tensor,
    springs: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Per-system, per-step errors of trajectories (N, T, 2, n, 2) (float64): ``state`` relative
    error against the truth, ``energy`` relative error of the true energy against the initial one,
    and the relative drifts ``linear`` ‖P(t) − P(0)‖/Σ‖p_i(0)‖ and ``angular``
    |L(t) − L(0)|/Σ‖q_i(0)‖‖p_i(0)‖, all (N, T)."""
    energy = spring_hamiltonian(predicted, masses[:, None], springs[:, None])
    start = predicted[:, :1]
    linear_scale = momenta(start).norm(dim=-1).sum(-1)
    angular_scale = (positions(start).norm(dim=-1) * momenta(start).norm(dim=-1)).sum(-1)
    return {
        "state": relative_error(predicted, true, dims=3),
        "energy": relative_error(energy, energy[:, :1].expand_as(energy), dims=0),
        "linear": (linear_momentum(predicted) - linear_momentum(start)).norm(dim=-1) / linear_scale,
        "angular": (angular_momentum(predicted) - angular_momentum(start)).abs() / angular_scale,
    }


def summary_metrics(
    errors: dict[str, torch.Tensor],
    rates: tuple[torch.Tensor, torch.Tensor],
    prefix: str = "",
) -> dict[str, float]:
    """Means over systems and steps 1…T (state, energy) and of each system's largest drift (momenta)
    and largest momentum rate (``momentum_rates`` of the field along the trajectory)."""
    return {
        f"{prefix}long_rollout_rel_err": float(errors["state"][:, 1:].mean()),
        f"{prefix}energy_rel_err": float(errors["energy"][:, 1:].mean()),
        f"{prefix}linear_momentum_drift": float(errors["linear"].amax(1).mean()),
        f"{prefix}angular_momentum_drift": float(errors["angular"].amax(1).mean()),
        f"{prefix}linear_momentum_rate": float(rates[0].amax(1).mean()),
        f"{prefix}angular_momentum_rate": float(rates[1].amax(1).mean()),
    }


def plot_trajectories(predicted: torch.Tensor, true: torch.Tensor, label: str):
    """Paper Fig. 6: the bodies' paths of one system, truth solid and prediction dashed."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i in range(true.shape[2]):
        c = colours[i % len(colours)]
        ax.plot(true[:, 0, i, 0], true[:, 0, i, 1], color=c, lw=1.2, label="truth" if i == 0 else None)
        ax.plot(predicted[:, 0, i, 0], predicted[:, 0, i, 1], color=c, lw=1.2, ls="--", label=label if i == 0 else None)
        ax.plot(true[0, 0, i, 0], true[0, 0, i, 1], "o", color=c, ms=4)
    ax.set(aspect="equal", xlabel="x", ylabel="y", title=f"{label}: {len(true) - 1} steps")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def plot_conservation(curves: dict, label: str):
    """Relative state error, energy error and momentum drifts along the long rollouts (medians over
    systems, from the first step on; exact zeros drawn at 1e-18)."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.5))
    t = curves["times"][1:]
    titles = ("state rel. error", "energy rel. error", "linear momentum drift", "angular momentum drift")
    for ax, key, title in zip(axes, ("state", "energy", "linear", "angular"), titles):
        ax.plot(t, [max(v, 1e-18) for v in curves["model"][key][1:]], label=label)
        if key != "state":
            ax.plot(t, [max(v, 1e-18) for v in curves["truth"][key][1:]], label="ground truth (RK4)", color="k", ls=":")
        ax.set(yscale="log", xlabel="time", title=f"{title} (median)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def spring_settings(data_cfg: DictConfig) -> SpringSettings:
    """The simulation settings of ``data``."""
    d = data_cfg
    return SpringSettings(
        num_bodies=int(d.num_bodies),
        num_times=int(d.num_times),
        t_end=float(d.t_end),
        chunk_steps=int(d.chunk_steps),
        long_steps=int(d.long_steps),
        seed=int(d.seed),
    )


def load_splits(data_cfg: DictConfig, settings: SpringSettings) -> tuple[SpringSplit, SpringSplit, SpringSplit]:
    """(train, valid, test) systems from the cache (simulated on first use)."""
    if settings.chunk_steps >= settings.num_times or settings.long_steps >= settings.num_times:
        raise UserError(f"data.chunk_steps and data.long_steps must be below data.num_times ({settings.num_times})")
    d = data_cfg
    train, valid, test = (
        load_split(d.cache_dir, settings, split, int(size))
        for split, size in (("train", d.num_train), ("valid", d.num_valid), ("test", d.num_test))
    )
    log.info(
        "springs: %d bodies, %d train / %d valid / %d test systems, dt %.4g",
        settings.num_bodies,
        len(train),
        len(valid),
        len(test),
        settings.dt,
    )
    return train, valid, test


def train_dynamics(
    cfg: DictConfig,
    model: DynamicsModel,
    train: SpringSplit,
    valid: SpringSplit,
    chunk_times: torch.Tensor,
    batch_rng: torch.Generator,
    out_dir: Path,
    label: str,
) -> tuple[TrainResult, EpochSampler, BestModel]:
    """MSE of the model's rollouts of shuffled epochs of training chunks (float32); after every epoch
    the validation rollout MSE, and the weights with the lowest kept (not yet loaded)."""
    device, eval_batch = chunk_times.device, int(cfg.evaluation.batch_size)
    train_chunks = train.chunks.to(device, torch.float32)
    train_params = train.params.to(device, torch.float32)
    sampler = epoch_sampler_from_config(cfg, len(train))
    best = BestModel(model)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        idx = sampler.next_batch(rng).to(device)
        chunk = train_chunks[idx]
        predicted = rollout(model, chunk[:, 0], train_params[idx], chunk_times)
        return (predicted[:, 1:] - chunk[:, 1:]).pow(2).mean()

    def monitor() -> dict[str, float]:
        mse = rollout_mse(model, valid, chunk_times, eval_batch, device)
        if math.isnan(mse):
            return {}
        best.update(-mse, trainer.result.steps)
        return {"val_rollout_mse": mse}

    trainer = trainer_from_config(
        model,
        cfg,
        out_dir=out_dir,
        batch_rng=batch_rng,
        description=f"{label} on springs",
        monitor=monitor,
        extra_state={"sampler": sampler, "best": best},
    )
    return trainer.fit(step_loss), sampler, best


@dataclass
class LongRollouts:
    """The first N test systems rolled out from t = 0 over ``times`` (T,): ``true`` and ``predicted``
    trajectories (N, T, 2, n, 2) float64 on the CPU, their per-system, per-step ``errors`` and
    ``true_errors`` (:func:`trajectory_errors`), and the momentum ``rates`` and ``true_rates`` (N, T) of
    the model's and the true vector field along them (``momentum_rates``)."""

    times: torch.Tensor
    true: torch.Tensor
    predicted: torch.Tensor
    errors: dict[str, torch.Tensor]
    true_errors: dict[str, torch.Tensor]
    rates: tuple[torch.Tensor, torch.Tensor]
    true_rates: tuple[torch.Tensor, torch.Tensor]


def roll_out_long(
    model: DynamicsModel,
    test: SpringSplit,
    settings: SpringSettings,
    count: int,
    dtype: torch.dtype,
    batch_size: int,
    device,
) -> LongRollouts:
    """Long rollouts of the first ``count`` test systems by a copy of ``model`` in ``dtype`` (eval mode)."""
    times = settings.times(settings.long_steps)
    true = test.long[:count]
    evaluated = copy.deepcopy(model).to(device, dtype).eval()
    predicted, field = long_rollouts(evaluated, test, times, count, batch_size, device)
    masses, springs = test.masses[:count], test.springs[:count]
    errors = trajectory_errors(predicted, true, masses, springs)
    true_errors = trajectory_errors(true, true, masses, springs)
    true_field = spring_vector_field(true.to(dtype), masses[:, None].to(dtype), springs[:, None].to(dtype)).double()
    return LongRollouts(
        times, true, predicted, errors, true_errors, momentum_rates(predicted, field), momentum_rates(true, true_field)
    )


def conservation_metrics(r: LongRollouts) -> dict[str, float]:
    """The long-rollout metrics of the module docstring: the model's, the ground truth's (``true_*``,
    without the state error, zero by construction) and the drift ratios model / truth."""
    metrics = summary_metrics(r.errors, r.rates)
    metrics.update(summary_metrics(r.true_errors, r.true_rates, "true_"))
    del metrics["true_long_rollout_rel_err"]  # zero by construction
    for key in ("linear", "angular"):
        floor = metrics[f"true_{key}_momentum_drift"]
        metrics[f"{key}_drift_ratio"] = metrics[f"{key}_momentum_drift"] / floor if floor > 0 else math.inf
    return metrics


def save_long_rollouts(r: LongRollouts, label: str, out_dir: Path) -> None:
    """``rollout_curves.json`` (median errors over systems per step, one example's positions) and the
    ``trajectories`` and ``conservation`` figures."""
    curves = {
        "label": label,
        "times": r.times.tolist(),
        "model": {k: v.median(0).values.tolist() for k, v in r.errors.items()},
        "truth": {k: v.median(0).values.tolist() for k, v in r.true_errors.items()},
        "example": {"true": r.true[0, :, 0].tolist(), "predicted": r.predicted[0, :, 0].tolist()},
    }
    (out_dir / CURVES_FILE).write_text(json.dumps(curves))
    save_figure(plot_trajectories(r.predicted[0], r.true[0], label), out_dir, "trajectories")
    save_figure(plot_conservation(curves, label), out_dir, "conservation")


def evaluation_dtype(cfg: DictConfig) -> torch.dtype:
    """``evaluation.dtype`` as a torch dtype."""
    name = choose(cfg.evaluation.dtype, ("float32", "float64"), "evaluation.dtype")
    return {"float32": torch.float32, "float64": torch.float64}[name]


@register("lieconv_springs")
def run(cfg: DictConfig) -> dict[str, float]:
    device = torch.device(cfg.device)
    out_dir = Path(cfg.paths.output_dir)
    settings = spring_settings(cfg.data)
    dtype = evaluation_dtype(cfg)
    train, valid, test = load_splits(cfg.data, settings)

    rngs = seeded_rngs(int(cfg.seed), "init", "batches")
    group, num_bodies = str(cfg.group), settings.num_bodies
    model = built_with_seed_of(rngs["init"], lambda: build_model(cfg.model, group, num_bodies).to(device))
    label = model_label(cfg)
    if cfg.trainer.get("lr") is None:  # trainer.lr is the model's own (model.lr) unless set
        raise UserError(f"model={cfg.model.name} has no learning rate of its own for group {cfg.group}; set trainer.lr")
    log.info("%s: %d parameters, lr %g", label, num_params(model), cfg.trainer.lr)

    chunk_times = settings.times(settings.chunk_steps, torch.float32).to(device)
    eval_batch = int(cfg.evaluation.batch_size)
    result, sampler, best = train_dynamics(cfg, model, train, valid, chunk_times, rngs["batches"], out_dir, label)
    finished = finish_on_best(best, result, lambda: rollout_mse(model, test, chunk_times, eval_batch, device))

    count = min(int(cfg.evaluation.long_systems), len(test))
    metrics: dict[str, float] = {"rollout_mse": finished.score}
    if count:
        long = roll_out_long(model, test, settings, count, dtype, eval_batch, device)
        metrics.update(conservation_metrics(long))
        save_long_rollouts(long, label, out_dir)
    kept = finished.kept_step / sampler.steps_per_epoch
    figure = plot_learning_curve(
        result,
        sampler.steps_per_epoch,
        kept,
        f"{label} on springs",
        metric="val_rollout_mse",
        label="validation rollout MSE",
        log_scale=True,
    )
    save_figure(figure, out_dir, "learning_curve")
    metrics.update(
        {
            "val_rollout_mse": -finished.best_score,
            "final_rollout_mse": finished.final_score,
            "num_train": len(train),
            "long_systems": count,
            "num_params": num_params(model),
            "lr": float(cfg.trainer.lr),
            "steps": result.steps,
            "train_seconds": result.train_seconds,
            "train_systems_per_second": training_throughput(result, sampler),
        }
    )
    return metrics
