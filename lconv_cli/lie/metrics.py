"""Comparisons between generators."""

from __future__ import annotations

import torch


def generator_cos(a: torch.Tensor, b: torch.Tensor) -> float:
    """|tr(AᵀB)| / (‖A‖_F ‖B‖_F): cosine between two generators, free of sign and scale.

    The absolute value makes it sign-free (a learned L and −Lᵀ describe the same
    one-parameter group for antisymmetric references). Returns 0 if either is zero.
    """
    a = a.detach().to(torch.float64).cpu()
    b = b.detach().to(torch.float64).cpu()
    denom = torch.linalg.norm(a) * torch.linalg.norm(b)
    if denom == 0:
        return 0.0
    return float((a * b).sum().abs() / denom)
