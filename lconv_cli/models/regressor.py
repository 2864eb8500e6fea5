"""A small smooth regressor for a target y(x): the learned function whose symmetries are then sought."""

from __future__ import annotations

import torch
from torch import nn


class Regressor(nn.Module):
    """Standardise x → Linear → SiLU → Linear → SiLU → Linear → un-standardise: (N, D) → (N, m), float64.
    SiLU keeps the function smooth, so its gradients (what symmetry discovery uses) are too."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, width: int = 64) -> None:
        super().__init__()
        self.register_buffer("x_mean", x.mean(0))
        self.register_buffer("x_std", x.std(0).clamp_min(1e-12))
        self.register_buffer("y_mean", y.mean(0))
        self.register_buffer("y_std", y.std(0).clamp_min(1e-12))
        d, m = x.shape[1], y.shape[1]
        self.net = nn.Sequential(
            nn.Linear(d, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, m)
        ).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean


def r_squared(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """1 − Σ(y − ŷ)² / Σ(y − ȳ)² over all outputs."""
    residual = (target - prediction).pow(2).sum()
    total = (target - target.mean(0)).pow(2).sum().clamp_min(1e-300)
    return float(1 - residual / total)


def fit_regressor(
    x: torch.Tensor, y: torch.Tensor, rng: torch.Generator, *, width: int = 64, steps: int = 3000, lr: float = 1e-2
) -> Regressor:
    """Full-batch Adam on the mean squared error of standardised targets, cosine-decayed learning
    rate; x (N, D), y (N, m) float64. Initialisation from ``rng``."""
    model = Regressor(x, y, width)
    with torch.no_grad():
        for layer in model.net:
            if isinstance(layer, nn.Linear):
                bound = 1 / layer.in_features**0.5
                layer.weight.copy_((torch.rand(layer.weight.shape, generator=rng, dtype=torch.float64) * 2 - 1) * bound)
                layer.bias.copy_((torch.rand(layer.bias.shape, generator=rng, dtype=torch.float64) * 2 - 1) * bound)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, steps))
    target = (y - model.y_mean) / model.y_std
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (model.net((x - model.x_mean) / model.x_std) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()
