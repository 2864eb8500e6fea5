"""Scores of predicted transformation parameters against the true ones (1D, float64)."""

from __future__ import annotations

import torch


def affine_alignment(predicted: torch.Tensor, true: torch.Tensor) -> tuple[float, float]:
    """(a, b) of the least-squares map a·predicted + b ≈ true (the t-network's scale and sign are free)."""
    p, t = predicted.double().reshape(-1), true.double().reshape(-1)
    design = torch.stack([p, torch.ones_like(p)], dim=1)
    a, b = torch.linalg.lstsq(design, t[:, None]).solution[:, 0]
    return float(a), float(b)


def r2_score(predicted: torch.Tensor, true: torch.Tensor) -> float:
    """R² of the best affine map from ``predicted`` to ``true``: 1 − SS_res/SS_tot (1: exact up to scale,
    sign and offset; 0: no better than the mean). Equals the squared Pearson correlation."""
    a, b = affine_alignment(predicted, true)
    t = true.double().reshape(-1)
    residual = ((a * predicted.double().reshape(-1) + b - t) ** 2).sum()
    total = ((t - t.mean()) ** 2).sum()
    return float(1 - residual / total) if total > 0 else float("nan")


def wasserstein_1d(a: torch.Tensor, b: torch.Tensor) -> float:
    """Wasserstein-1 distance between two empirical distributions of equal size: mean |sort(a) − sort(b)|."""
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    if a.numel() != b.numel():
        raise ValueError(f"equal sample sizes needed, got {a.numel()} and {b.numel()}")
    return float((a.sort().values - b.sort().values).abs().mean())
