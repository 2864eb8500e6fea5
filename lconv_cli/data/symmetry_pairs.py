"""Image pairs (x, T_t x) for latent symmetry detection (neural symmetry detection paper).

A transformation family is a vector field Γ in the quadratic basis (:mod:`lconv_cli.lie.flows`);
T_t resamples an image at φ_t(p), the flow of Γ for time t, on the centred grid of pixel centres
in normalised coordinates (x along columns, y down the rows, both in [−1, 1], pixel centres at
(2k + 1)/n − 1, ``grid_sample``'s align_corners=False convention). At t = 0 every sample falls on
a pixel centre, so T_0 is the identity to float rounding for every interpolation mode: no
spurious shrink or shift, unlike the official SCT (``grid="official"`` reproduces it for study).

Parameters t are drawn from ``uniform``, ``gaussian``, ``bimodal`` or ``4modal`` distributions on
a range [low, high]. Tasks: ``same_image`` pairs an image with its own transform;
``different_image`` pairs it with the transform of another image of the same class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lconv_cli.lie.flows import flow_points, grid_points
from lconv_cli.lie.generators import normalised_coords

DISTRIBUTIONS = ("uniform", "gaussian", "bimodal", "4modal")
TASKS = ("same_image", "different_image")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
GRIDS = ("centred", "official")
GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as PIL's convert("L")


@dataclass
class SymmetryPairs:
    """x0, xt: (N, n²) float32 standardised images, flattened row-major; t: (N,) float32 true
    parameters; labels: (N,) int64 classes of x0; source: (N,) int64 index of the image that was
    transformed into xt (x0's own index for ``same_image``)."""

    x0: torch.Tensor
    xt: torch.Tensor
    t: torch.Tensor
    labels: torch.Tensor
    source: torch.Tensor

    def __len__(self) -> int:
        return self.x0.shape[0]

    def to(self, device: torch.device | str) -> SymmetryPairs:
        return SymmetryPairs(
            self.x0.to(device), self.xt.to(device), self.t.to(device), self.labels.to(device), self.source.to(device)
        )


def mode_centres(distribution: str, low: float, high: float) -> list[float]:
    """The centres of the modes: the midpoint, or 2 / 4 equally spaced centres of equal sub-intervals."""
    modes = {"uniform": 1, "gaussian": 1, "bimodal": 2, "4modal": 4}[distribution]
    width = (high - low) / modes
    return [low + width * (i + 0.5) for i in range(modes)]


def sample_parameters(distribution: str, low: float, high: float, count: int, rng: torch.Generator) -> torch.Tensor:
    """(count,) float64 parameters t.

    ``uniform``: U[low, high). ``gaussian``: N(mid, ((high − low)/4)²), mid the midpoint.
    ``bimodal`` / ``4modal``: equal mixtures of 2 / 4 Gaussians centred on equal sub-intervals of
    [low, high] with σ = a sixth of a sub-interval, so the modes are well separated.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if not high >= low:
        raise ValueError(f"the parameter range must be increasing, got [{low}, {high}]")
    if distribution == "uniform":
        return low + (high - low) * torch.rand(count, generator=rng, dtype=torch.float64)
    centres = torch.tensor(mode_centres(distribution, low, high), dtype=torch.float64)
    sigma = (high - low) / 4 if distribution == "gaussian" else (high - low) / len(centres) / 6
    which = torch.randint(len(centres), (count,), generator=rng)
    return centres[which] + sigma * torch.randn(count, generator=rng, dtype=torch.float64)


def pixel_points(n: int, grid: str = "centred") -> torch.Tensor:
    """(n², 2) float64 (x, y) sample positions of the pixels, row-major.

    ``centred``: pixel centres (2k + 1)/n − 1. ``official``: linspace(−1, 1, n), the official
    code's grid, which grid_sample (align_corners=False) reads as a zoom by n/(n − 1) and a half
    pixel shift: T_0 is then not the identity.
    """
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    return grid_points(normalised_coords(n) if grid == "centred" else torch.linspace(-1, 1, n, dtype=torch.float64))


def transform_images(
    images: torch.Tensor,
    coeffs: torch.Tensor,
    t: torch.Tensor,
    interpolation: str = "bilinear",
    grid: str = "centred",
    chunk: int = 2048,
) -> torch.Tensor:
    """T_t images: each (n, n) image resampled at φ_t of its pixel positions, zero outside the frame.

    Args:
        images: (N, n, n) float images.
        coeffs: (6,) or (12,) field coefficients (normalised coordinates).
        t: (N,) parameters.
        interpolation: ``bilinear``, ``bicubic`` (values clamped to the input's range) or ``nearest``.
            Bilinear at ±t averages into central differences, so its small-t action is the field's
            (to the accuracy of central differences); torch's bicubic kernel (a = −0.75) is 1.5×
            too steep at the nodes, so its small-t action is about 1.5 G x.
    Returns:
        (N, n, n) in the dtype of ``images``.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    n = images.shape[-1]
    points = pixel_points(n, grid)
    out = torch.empty_like(images)
    low, high = images.min(), images.max()
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk]
        moved = flow_points(coeffs, t[start : start + chunk], points)  # (B, n², 2)
        moved = torch.nan_to_num(moved, nan=4.0, posinf=4.0, neginf=-4.0).clamp(-4.0, 4.0)  # far outside: zero padding
        sample = moved.reshape(len(part), n, n, 2).to(images.dtype)
        res = F.grid_sample(part[:, None], sample, mode=interpolation, padding_mode="zeros", align_corners=False)[:, 0]
        out[start : start + chunk] = res.clamp(low, high) if interpolation == "bicubic" else res
    return out


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """(N, H, W) float in [0, 1] from (N, C, H, W) uint8 (colour converted with ITU-R 601 weights)."""
    x = images.to(torch.float32) / 255.0
    if x.shape[1] == 3:
        return torch.einsum("nchw,c->nhw", x, torch.tensor(GREY_WEIGHTS))
    return x[:, 0]


def partner_indices(labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """(N,) for each example, a different example of the same class (seeded); itself if it is alone in its class."""
    partner = torch.arange(len(labels))
    for cls in labels.unique():
        members = (labels == cls).nonzero()[:, 0]
        order = members[torch.randperm(len(members), generator=rng)]
        partner[order] = order.roll(1)
    return partner


def make_symmetry_pairs(
    images: torch.Tensor,
    labels: torch.Tensor,
    coeffs: torch.Tensor,
    distribution: str,
    low: float,
    high: float,
    task: str,
    rng: torch.Generator,
    interpolation: str = "bilinear",
    grid: str = "centred",
    mean: float | None = None,
    std: float | None = None,
) -> tuple[SymmetryPairs, float, float]:
    """Pairs from every image in ``images`` (N, n, n) float in [0, 1]; returns (pairs, mean, std).

    xt = T_t(image[source]) with source the image itself (``same_image``) or another image of its
    class (``different_image``). Both images are standardised by (mean, std), computed from
    ``images`` when not given (pass the training statistics for the test split).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    t = sample_parameters(distribution, low, high, len(images), rng)
    source = torch.arange(len(images)) if task == "same_image" else partner_indices(labels, rng)
    moved = transform_images(images[source], coeffs, t, interpolation, grid)
    if mean is None or std is None:
        mean, std = float(images.mean()), float(images.std())
    flat = lambda x: ((x - mean) / std).reshape(len(x), -1).float()  # noqa: E731
    return SymmetryPairs(flat(images), flat(moved), t.float(), labels.clone(), source), mean, std
