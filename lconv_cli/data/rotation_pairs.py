"""Pairs (f, T(θ) f) of random images and their rotated copies, for learning the so(2) generator."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lconv_cli.lie.expm import antisymmetric_expm_action
from lconv_cli.lie.generators import CONVENTIONS, rotation_generator_2d

ROTATIONS = ("swi", "bilinear")


@dataclass
class PairSet:
    """A set of transformation pairs.

    f: (N, d) float32 source signals, flattened (d = n² for images), values in [−0.5, 0.5).
    theta: (N,) float32 transformation parameters (radians for rotations, samples for shifts).
    g: (N, d) float32 transformed signals T(θ) f.
    """

    f: torch.Tensor
    theta: torch.Tensor
    g: torch.Tensor

    def __len__(self) -> int:
        return self.f.shape[0]

    def to(self, device: torch.device | str) -> PairSet:
        return PairSet(self.f.to(device), self.theta.to(device), self.g.to(device))


def bilinear_rotate(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotate each image by its own angle as the official L-conv code does.

    ``affine_grid`` with [[cos θ, sin θ, 0], [−sin θ, cos θ, 0]], then ``grid_sample``
    (bilinear, zero padding, align_corners=False). images: (N, n, n); theta: (N,) radians.
    Returns (N, n, n) in the dtype of ``images``.
    """
    num, n = images.shape[0], images.shape[-1]
    c, s = torch.cos(theta).to(images.dtype), torch.sin(theta).to(images.dtype)
    zero = torch.zeros_like(c)
    affine = torch.stack([torch.stack([c, s, zero], 1), torch.stack([-s, c, zero], 1)], 1)
    grid = F.affine_grid(affine, [num, 1, n, n], align_corners=False)
    out = F.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[:, 0]


def make_rotation_pairs(
    n: int,
    num: int,
    theta_range_deg: tuple[float, float],
    rotation: str,
    rng: torch.Generator,
    conventions: str = "centred",
) -> PairSet:
    """Draw ``num`` seeded pairs of n×n uniform-noise images and their rotations.

    Args:
        n: image side in pixels.
        num: number of pairs.
        theta_range_deg: (low, high); θ ~ U[low, high) in degrees (low = high: one fixed angle).
        rotation: ``swi``: T(θ) = exp(θ L_SW), computed exactly in float64, so L_SW is the
            data's own generator. ``bilinear``: the official code's resampling (not a group;
            see :mod:`lconv_cli.lie.resampling`).
        rng: torch.Generator that makes the draw reproducible.
        conventions: the grid of L_SW for ``swi`` data (``centred`` or ``paper``).
    """
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {ROTATIONS}, got {rotation!r}")
    if conventions not in CONVENTIONS:
        raise ValueError(f"conventions must be one of {CONVENTIONS}, got {conventions!r}")
    low, high = (math.radians(a) for a in theta_range_deg)
    if not high >= low:
        raise ValueError(f"theta_range_deg must be increasing, got {tuple(theta_range_deg)}")
    f = torch.rand(num, n * n, generator=rng, dtype=torch.float64) - 0.5
    theta = low + (high - low) * torch.rand(num, generator=rng, dtype=torch.float64)
    if rotation == "swi":
        g = antisymmetric_expm_action(rotation_generator_2d(n, conventions), theta, f)
    else:
        g = bilinear_rotate(f.reshape(num, n, n), theta).reshape(num, n * n)
    return PairSet(f.float(), theta.float(), g.float())
