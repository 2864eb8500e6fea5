"""The generator-set model of linear algebra discovery: k learnable n×n generators, their losses
(invariance, normalisation, orthogonality, closure), the spectral read-out of the invariant part of
their span, and the L-BFGS polish (see ``experiments/algebra_discovery.py`` for the method)."""

from __future__ import annotations

import math

import torch
from torch import nn

from lconv_cli.lie import bracket
from lconv_cli.lie.algebras import AlgebraCase, invariance_residuals
from lconv_cli.lie.fitting import lbfgs_minimise
from lconv_cli.lie.metrics import spectral_dimension

LOSS_TERMS = ("invariance", "normalisation", "orthogonality", "closure")


class GeneratorSet(nn.Module):
    """k learnable (n, n) generators, float64, initialised N(0, 1/n)."""

    def __init__(self, k: int, n: int, rng: torch.Generator) -> None:
        super().__init__()
        self.generators = nn.Parameter(torch.randn(k, n, n, generator=rng, dtype=torch.float64) / math.sqrt(n))


def closure_penalty(gens: torch.Tensor) -> torch.Tensor:
    """Σ_{i<j} ‖[G_i, G_j] − proj_span [G_i, G_j]‖² / (‖G_i‖²‖G_j‖²), differentiable."""
    k = gens.shape[0]
    if k < 2:
        return gens.sum() * 0
    basis = gens.flatten(1).T  # (n², k)
    i, j = torch.triu_indices(k, k, 1)
    brackets = bracket(gens[i], gens[j]).flatten(1).T  # (n², pairs)
    coeffs = torch.linalg.lstsq(basis, brackets).solution
    misfit = (brackets - basis @ coeffs).pow(2).sum(0)
    norms = gens.flatten(1).pow(2).sum(-1)
    return (misfit / (norms[i] * norms[j])).sum()


def losses(
    gens: torch.Tensor,
    points: torch.Tensor,
    grads: torch.Tensor,
    case: AlgebraCase,
    closure: bool = True,
) -> dict[str, torch.Tensor]:
    """The named loss terms for generators (k, n, n) on points (N, n·copies); closure only if asked."""
    flat = gens.flatten(1)
    norms = flat.norm(dim=-1)
    unit = flat / norms[:, None]
    gram = unit @ unit.T
    parts = {
        "invariance": invariance_residuals(gens, points, grads, case.copies).pow(2).mean(1).sum(),
        "normalisation": (norms.pow(2) - 1).pow(2).sum(),
        "orthogonality": torch.triu(gram, 1).pow(2).sum(),
    }
    if closure:
        parts["closure"] = closure_penalty(gens)
    return parts


def weighted_loss(parts: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[name] * value for name, value in parts.items())


def polish(
    gens: torch.Tensor,
    points: torch.Tensor,
    grads: torch.Tensor,
    case: AlgebraCase,
    weights: dict[str, float],
    max_iter: int,
) -> torch.Tensor:
    """L-BFGS on all losses (closure included) from the discovered generators (m, n, n), float64."""
    if max_iter <= 0 or gens.shape[0] == 0:
        return gens
    start = gens.detach().clone()
    start = start / start.flatten(1).norm(dim=-1)[:, None, None]
    return lbfgs_minimise(
        start, lambda params: weighted_loss(losses(params, points, grads, case), weights), max_iter, 1e-14, 1e-18
    )


def discovered_subspace(
    gens: torch.Tensor,
    points: torch.Tensor,
    grads: torch.Tensor,
    case: AlgebraCase,
    tol: float,
    min_gap: float = 100.0,
):
    """(generators (m, n, n), eigenvalues (k,), spectral gap) of the invariant part of span{G_i}."""
    k, n, _ = gens.shape
    q, _ = torch.linalg.qr(gens.detach().flatten(1).T)  # (n², k) orthonormal basis of the span
    basis = q.T.reshape(k, n, n)
    r = invariance_residuals(basis, points, grads, case.copies)  # (k, N)
    evals, evecs = torch.linalg.eigh(r @ r.T / r.shape[1])
    dim, gap = spectral_dimension(evals, tol, min_gap)
    found = torch.einsum("am,aij->mij", evecs[:, :dim], basis)
    return found, evals.clamp_min(1e-15 * float(evals.abs().max())), gap
