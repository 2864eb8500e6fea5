"""Pixel-resampling transformations as matrices, for comparing learned generators with the data's.

Bilinear resampling (torch ``affine_grid`` + ``grid_sample``, as in the official L-conv code) is
not a one-parameter group: T(a) T(b) ≠ T(a + b), it blurs, and zero padding loses mass. Its
best single-generator description is the central-difference generator G_cd = (T(ε) − T(−ε)) / 2ε.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bilinear_rotation_matrix(n: int, theta: float) -> torch.Tensor:
    """(n², n²) float64 matrix of the bilinear rotation of an n×n image by ``theta`` radians.

    Same operation as the official code: affine_grid with [[cos θ, sin θ, 0], [−sin θ, cos θ, 0]],
    then grid_sample (bilinear, zero padding, align_corners=False). Column j is the image that
    pixel j (row-major) is sent to.
    """
    c, s = math.cos(theta), math.sin(theta)
    basis = torch.eye(n * n, dtype=torch.float64).reshape(n * n, 1, n, n)
    affine = torch.tensor([[c, s, 0.0], [-s, c, 0.0]], dtype=torch.float64).expand(n * n, 2, 3)
    grid = F.affine_grid(affine, [n * n, 1, n, n], align_corners=False)
    moved = F.grid_sample(basis, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved.reshape(n * n, n * n).T.contiguous()


def central_difference_generator(n: int, eps: float = 1e-6) -> torch.Tensor:
    """(n², n²) float64 G_cd = (T(ε) − T(−ε)) / 2ε of the bilinear rotation T; converges as O(ε).

    Its limit has a closed form: at θ = 0 every sample sits on a pixel centre, where bilinear
    interpolation has one-sided slopes that average to central differences, so
    G_cd → −(x D_y − y D_x) with D f[i] = (f[i+1] − f[i−1]) / 2 and zeros outside the image
    (the sign: the official θ turns the image the other way from exp(θ L_SW)).
    """
    return (bilinear_rotation_matrix(n, eps) - bilinear_rotation_matrix(n, -eps)) / (2 * eps)
