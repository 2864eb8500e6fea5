"""Optimizers and learning-rate schedules chosen by name from the ``trainer`` config group."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from omegaconf import DictConfig

from lconv_cli.runner.configuring import choose

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step", "cosine_floor")


def make_optimizer(params: Iterable[torch.nn.Parameter], trainer_cfg: DictConfig) -> torch.optim.Optimizer:
    """``trainer.optimizer``: adam, adamw (decoupled weight decay), sgd with momentum 0.9, or
    rmsprop (Keras' defaults ρ = 0.9, ε = 1e-7: the official image scripts' optimizer); learning
    rate ``trainer.lr``, weight decay ``trainer.weight_decay`` (default 0)."""
    name = choose(trainer_cfg.optimizer, OPTIMIZERS, "trainer.optimizer")
    lr, decay = trainer_cfg.lr, float(trainer_cfg.get("weight_decay") or 0.0)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7, weight_decay=decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=decay)


def make_schedule(
    optimizer: torch.optim.Optimizer, trainer_cfg: DictConfig
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``trainer.lr_schedule``: constant (None), cosine annealing to 0 over ``trainer.max_steps``, or
    step: multiply by ``trainer.lr_gamma`` every ``trainer.lr_step_every`` steps (the L-conv
    notebooks' StepLR, γ = 0.7 per epoch), or cosine_floor: the LieConv schedule, a linear warm-up
    over ``trainer.warmup_fraction`` of the steps times max(½(1 + cos πs/S), 10⁻³).

    Annealing matters for exact-recovery problems: at a constant rate Adam keeps taking
    lr-sized steps once the gradients vanish, and the loss climbs back from its floor.
    """
    name = choose(trainer_cfg.lr_schedule, SCHEDULES, "trainer.lr_schedule")
    if name == "constant":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=int(trainer_cfg.lr_step_every), gamma=float(trainer_cfg.lr_gamma)
        )
    if name == "cosine_floor":
        total = max(1, int(trainer_cfg.max_steps))
        warmup = max(1, int(float(trainer_cfg.get("warmup_fraction") or 0.0) * total))

        def factor(step: int) -> float:
            return min(1.0, (step + 1) / warmup) * max(0.5 * (1 + math.cos(math.pi * step / total)), 1e-3)

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(trainer_cfg.max_steps))
