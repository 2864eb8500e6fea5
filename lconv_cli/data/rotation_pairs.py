"""Pairs (f, T(θ) f) of random images and their rotated copies, for learning the so(2) generator."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lconv_cli.lie.expm import antisymmetric_expm_action
from lconv_cli.lie.generators import rotation_generator_2d

OPERATORS = ("swi",)


@dataclass
class PairSet:
    """A set of transformation pairs.

    f: (N, d) float32 source images, flattened (d = n²), pixels in [−0.5, 0.5).
    theta: (N,) float32 rotation angles in radians.
    g: (N, d) float32 transformed images T(θ) f.
    """

    f: torch.Tensor
    theta: torch.Tensor
    g: torch.Tensor

    def __len__(self) -> int:
        return self.f.shape[0]

    def to(self, device: torch.device | str) -> "PairSet":
        return PairSet(self.f.to(device), self.theta.to(device), self.g.to(device))


def make_rotation_pairs(
    n: int,
    num: int,
    theta_range_deg: tuple[float, float],
    operator: str,
    generator: torch.Generator,
) -> PairSet:
    """Draw ``num`` seeded pairs of n×n uniform-noise images and their rotations.

    Args:
        n: image side in pixels.
        num: number of pairs.
        theta_range_deg: (low, high); θ ~ U[low, high) in degrees.
        operator: ``swi``: T(θ) = exp(θ L_SW), computed exactly in float64, so L_SW is the
            data's own generator.
        generator: torch.Generator that makes the draw reproducible.
    """
    if operator not in OPERATORS:
        raise ValueError(f"operator must be one of {OPERATORS}, got {operator!r}")
    low, high = (math.radians(a) for a in theta_range_deg)
    if not high >= low:
        raise ValueError(f"theta_range_deg must be increasing, got {tuple(theta_range_deg)}")
    f = torch.rand(num, n * n, generator=generator, dtype=torch.float64) - 0.5
    theta = low + (high - low) * torch.rand(num, generator=generator, dtype=torch.float64)
    g = antisymmetric_expm_action(rotation_generator_2d(n), theta, f)
    return PairSet(f.float(), theta.float(), g.float())
