"""Pairs (f, T f) of real images and their transformed versions, in the pixel order a classifier sees.

Transformations (``TRANSFORMS``) and their parameters, in units that move the image edge alike:

    tx, ty:    translation by t half-image-widths along x (columns) resp. y (rows)
    rotation:  rotation by t radians (positive: clockwise on screen, y pointing down the rows)
    scale:     isotropic scaling by the factor eᵗ

A pair moves every transformation at once, by its own parameters t_i (N, k), each uniform in
±``max_step``. ``resample="sw"`` applies the exact Shannon–Whittaker action exp(Σ_k t_k L_k) to the
image; ``bilinear`` / ``bicubic`` resample f(eˢ R(θ) x + b) with ``grid_sample`` (border padding), the
first-order match of the same generators. With a permutation (a scrambled variant), images and
generators are both in the permuted pixel order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lconv_cli.lie.generators import derivative_operators_2d, rotation_generator_2d, scaling_generator_2d

TRANSFORMS = ("tx", "ty", "rotation", "scale")
RESAMPLINGS = ("sw", "bilinear", "bicubic")


def true_generators(names: Sequence[str], n: int, permutation: torch.Tensor | None = None) -> torch.Tensor:
    """(k, n², n²) float64 SW generators of ``names`` on the n × n grid, in the parameter units above,
    rows and columns permuted by ``permutation`` (pixel i of a stored image is pixel permutation[i])."""
    dx, dy = derivative_operators_2d(n)
    table = {
        "tx": lambda: dx * (n / 2),
        "ty": lambda: dy * (n / 2),
        "rotation": lambda: rotation_generator_2d(n),
        "scale": lambda: scaling_generator_2d(n),
    }
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ValueError(f"unknown transformation {unknown[0]!r}; choose from {', '.join(TRANSFORMS)}")
    generators = torch.stack([table[name]() for name in names])
    if permutation is not None:
        generators = generators[:, permutation][:, :, permutation]
    return generators


def exp_action(generators: torch.Tensor, t: torch.Tensor, f: torch.Tensor, max_terms: int = 60) -> torch.Tensor:
    """exp(Σ_k t_ik L_k) f_i for every i: the Taylor series summed until a term is below 1e-13 of the sum.

    generators: (k, d, d); t: (N, k); f: (N, d), same dtype. Meant for small steps (‖Σ t L‖₂ ≲ 1)."""
    total, term = f.clone(), f
    transposed = generators.transpose(1, 2)
    for order in range(1, max_terms + 1):
        term = sum(t[:, k : k + 1] * (term @ transposed[k]) for k in range(len(generators))) / order
        total = total + term
        if float(term.abs().max()) <= 1e-13 * float(total.abs().max()):
            break
    return total


def resample(images: torch.Tensor, names: Sequence[str], t: torch.Tensor, interpolation: str) -> torch.Tensor:
    """images (N, C, n, n) float resampled at eˢ R(θ) x + b, with s, θ, b taken from t (N, k)."""
    params = {name: t[:, k] for k, name in enumerate(names)}
    zero = torch.zeros(len(images), dtype=images.dtype)
    theta, scale = params.get("rotation", zero), params.get("scale", zero).exp()
    affine = torch.stack(
        [
            torch.stack([scale * theta.cos(), -scale * theta.sin(), params.get("tx", zero)], 1),
            torch.stack([scale * theta.sin(), scale * theta.cos(), params.get("ty", zero)], 1),
        ],
        1,
    )
    grid = F.affine_grid(affine, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode=interpolation, padding_mode="border", align_corners=False)


@dataclass
class PixelPairs:
    """Flattened images f and their transformed versions g (N, d) float64, moved by parameters t (N, k)."""

    f: torch.Tensor
    t: torch.Tensor
    g: torch.Tensor
    names: list[str]

    def __len__(self) -> int:
        return len(self.f)


def make_pixel_pairs(
    images: torch.Tensor,
    names: Sequence[str],
    max_step: float,
    resampling: str,
    rng: torch.Generator,
    permutation: torch.Tensor | None = None,
    base_shift: int = 0,
) -> PixelPairs:
    """Pairs from uint8 images (N, C, n, n): every channel is one signal, values in [0, 1].

    ``base_shift`` > 0 first rolls each image by whole pixels, uniform in ±base_shift along each axis,
    so that the inputs light pixels the centred images never do (MNIST leaves 67 of 784 dark, and a
    generator's columns at those pixels are otherwise invisible in the pairs). t is drawn uniform in
    ±``max_step`` from ``rng``; see the module docstring for the rest."""
    if resampling not in RESAMPLINGS:
        raise ValueError(f"resampling must be one of {', '.join(RESAMPLINGS)}; got {resampling!r}")
    count, channels, height, width = images.shape
    if height != width:
        raise ValueError(f"transformation pairs need square images; these are {height}×{width}")
    x = images.to(torch.float64) / 255
    if base_shift > 0:
        shifts = torch.randint(-base_shift, base_shift + 1, (count, 2), generator=rng)
        x = torch.stack([image.roll((int(dy), int(dx)), dims=(-2, -1)) for image, (dy, dx) in zip(x, shifts)])
    t = (2 * torch.rand(count, len(names), generator=rng, dtype=torch.float64) - 1) * max_step
    if resampling == "sw":
        flat = x.reshape(count * channels, -1)
        moved = exp_action(true_generators(names, height), t.repeat_interleave(channels, 0), flat)
    else:
        moved = resample(x, names, t, resampling).reshape(count * channels, -1)
        flat = x.reshape(count * channels, -1)
    t = t.repeat_interleave(channels, 0)
    if permutation is not None:
        flat, moved = flat[:, permutation], moved[:, permutation]
    return PixelPairs(flat, t, moved, list(names))
