"""Invariants in the shape a user writes them, for ``data.invariant=tests.user_invariants:<name>``."""

import torch


def minkowski_interval(x: torch.Tensor) -> torch.Tensor:
    """(N, 4) four-vectors → (N,) t² − x² − y² − z²: its symmetry is the Lorentz algebra so(3,1)."""
    return x[:, 0] ** 2 - (x[:, 1:] ** 2).sum(-1)


def two_invariants(x: torch.Tensor) -> torch.Tensor:
    """(N, 3) → (N, 2): x² + y² + z² and z: only rotations about the z axis keep both (so(2))."""
    return torch.stack([(x * x).sum(-1), x[:, 2]], -1)


def wrong_shape(x: torch.Tensor) -> torch.Tensor:
    return x.sum()


def not_differentiable(x: torch.Tensor) -> torch.Tensor:
    return torch.ones(x.shape[0])


def raises(x: torch.Tensor) -> torch.Tensor:
    raise ValueError("broken invariant")


NOT_A_FUNCTION = 3
