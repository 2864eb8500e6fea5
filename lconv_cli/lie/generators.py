"""Generators of transformations of images, as matrices acting on flattened pixels.

Conventions: an image is an (n, n) array indexed [row, column] and flattened row-major
(pixel index = row·n + column). The coordinate x runs along columns and y along rows,
both centred on the image centre: x, y ∈ {−(n−1)/2, …, (n−1)/2}. Derivatives are the
Shannon–Whittaker derivative matrices (periodic, period n), so every operator here is
an exact generator: exp(θ L) is a one-parameter group.
"""

from __future__ import annotations

import torch

from lconv_cli.lie.shannon_whittaker import sw_derivative_matrix


def centered_coords(n: int) -> torch.Tensor:
    """(n,) float64 coordinates k − (n−1)/2 for k = 0..n−1; symmetric about 0."""
    return torch.arange(n, dtype=torch.float64) - (n - 1) / 2


def derivative_operators_2d(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂x, ∂y), each (n², n²) float64: ∂x differentiates along columns, ∂y along rows."""
    d = sw_derivative_matrix(n)
    eye = torch.eye(n, dtype=torch.float64)
    return torch.kron(eye, d), torch.kron(d, eye)


def coordinate_operators_2d(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, Y), each (n², n²) float64 diagonal: multiplication by the pixel's x resp. y coordinate."""
    c = centered_coords(n)
    ones = torch.ones(n, dtype=torch.float64)
    return torch.diag(torch.kron(ones, c)), torch.diag(torch.kron(c, ones))


def rotation_generator_2d(n: int) -> torch.Tensor:
    """(n², n²) float64 rotation generator L = x∂y − y∂x (antisymmetric).

    exp(θL) is orthogonal for every θ. In (x, y) coordinates it is the angular momentum
    operator ∂_φ; with y pointing down the rows, positive θ turns the picture clockwise.
    """
    dx, dy = derivative_operators_2d(n)
    x, y = coordinate_operators_2d(n)
    return x @ dy - y @ dx
