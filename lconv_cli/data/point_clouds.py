"""Seeded samples of distributions with a known symmetry, for discovering symmetries from
unlabelled data. Each returns float64 samples (N, n) and its true symmetry as vector fields
(k, M·n) in the monomial basis of degree ``field_degree`` (:mod:`lconv_cli.lie.vector_fields`).

- ``sphere``: a noisy unit sphere in R³, radius 1 + ``width``·N(0, 1) in a uniform direction;
  symmetry so(3) (exact).
- ``lorentz``: a mass shell in R^{1,3}: density ∝ exp(−(xᵀηx − 1)²/(2 width²) − ‖x‖²/(2 envelope²)),
  η = diag(1, −1, −1, −1) (rejection-sampled from N(0, envelope² I)); symmetry so(1,3). No
  normalisable distribution on R⁴ is Lorentz invariant: the Gaussian envelope breaks the boosts
  weakly (by ‖x‖²/envelope² against (xᵀηx − 1)/width² for the other directions).
- ``bent``: (x, u + x²) with x, u ~ N(0, 1): a Gaussian bent by the area-preserving map
  (x, u) ↦ (x, u + x²). Its symmetry is the rotation of (x, u) carried through the map, the cubic
  field −(y − x²)∂x + (x − 2x(y − x²))∂y: not affine, exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lconv_cli.errors import UserError
from lconv_cli.lie.bases import so_basis
from lconv_cli.lie.vector_fields import linear_fields, monomial_exponents

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


@dataclass(frozen=True)
class PointCloud:
    """A distribution: ``sample(count, rng)`` → (count, n); ``symmetry(degree)`` → (k, M·n) fields."""

    name: str
    n: int
    field_degree: int  # the lowest degree whose basis holds the symmetry
    description: str
    sample: Callable[[int, torch.Generator], torch.Tensor]
    symmetry: Callable[[int], torch.Tensor]


def _pad(fields: torch.Tensor, n: int, low: int, degree: int) -> torch.Tensor:
    """Fields of the degree-``low`` basis written in the degree-``degree`` one (same leading monomials)."""
    k, m_low = fields.shape[0], monomial_exponents(n, low).shape[0]
    out = torch.zeros(k, monomial_exponents(n, degree).shape[0], n, dtype=torch.float64)
    out[:, :m_low] = fields.reshape(k, m_low, n)
    return out.reshape(k, -1)


def sphere(width: float) -> PointCloud:
    def sample(count: int, rng: torch.Generator) -> torch.Tensor:
        direction = torch.randn(count, 3, generator=rng, dtype=torch.float64)
        radius = 1.0 + width * torch.randn(count, 1, generator=rng, dtype=torch.float64)
        return direction / direction.norm(dim=1, keepdim=True) * radius

    return PointCloud(
        "sphere",
        3,
        1,
        f"noisy unit sphere in R³ (radial width {width:g})",
        sample,
        lambda degree: _pad(linear_fields(so_basis(3).to(torch.float64)), 3, 1, degree),
    )


def lorentz(width: float, envelope: float) -> PointCloud:
    def sample(count: int, rng: torch.Generator) -> torch.Tensor:
        kept, total = [], 0
        while total < count:
            x = envelope * torch.randn(16 * count, 4, generator=rng, dtype=torch.float64)
            q = torch.einsum("ni,ij,nj->n", x, ETA, x)
            accept = torch.rand(len(x), generator=rng, dtype=torch.float64) < torch.exp(
                -((q - 1) ** 2) / (2 * width**2)
            )
            kept.append(x[accept])
            total += int(accept.sum())
        return torch.cat(kept)[:count]

    def symmetry(degree: int) -> torch.Tensor:
        return _pad(linear_fields(so_basis(1, 3).to(torch.float64)), 4, 1, degree)

    return PointCloud(
        "lorentz",
        4,
        1,
        f"mass shell xᵀηx ≈ 1 (width {width:g}) in R^(1,3) under a Gaussian envelope (σ {envelope:g})",
        sample,
        symmetry,
    )


def bent() -> PointCloud:
    def sample(count: int, rng: torch.Generator) -> torch.Tensor:
        x, u = torch.randn(2, count, generator=rng, dtype=torch.float64)
        return torch.stack([x, u + x * x], dim=1)

    def symmetry(degree: int) -> torch.Tensor:
        if degree < 3:
            return torch.zeros(0, monomial_exponents(2, degree).shape[0] * 2, dtype=torch.float64)
        exponents = monomial_exponents(2, degree)
        index = {tuple(p.tolist()): a for a, p in enumerate(exponents)}
        field = torch.zeros(len(exponents), 2, dtype=torch.float64)
        for power, direction, weight in (
            ((0, 1), 0, -1.0),
            ((2, 0), 0, 1.0),  # −(y − x²) ∂x
            ((1, 0), 1, 1.0),
            ((1, 1), 1, -2.0),
            ((3, 0), 1, 2.0),  # (x − 2xy + 2x³) ∂y
        ):
            field[index[power], direction] = weight
        return field.reshape(1, -1)

    return PointCloud(
        "bent",
        2,
        3,
        "Gaussian bent by (x, u) ↦ (x, u + x²) (non-affine symmetry)",
        sample,
        symmetry,
    )


def point_cloud(name: str, width: float, envelope: float) -> PointCloud:
    """A built-in distribution by name (sphere, lorentz, bent); UserError for any other."""
    makers = {"sphere": lambda: sphere(width), "lorentz": lambda: lorentz(width, envelope), "bent": bent}
    if name not in makers:
        raise UserError(f"data.distribution={name!r}: must be one of {', '.join(makers)} (or give data.path)")
    return makers[name]()
