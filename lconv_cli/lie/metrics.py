"""Comparisons between generators."""

from __future__ import annotations

import math

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


def _flatten(generators) -> torch.Tensor:
    """(k, D) float64: each generator as a row vector."""
    return torch.stack([torch.as_tensor(g).detach().to(torch.float64).cpu().reshape(-1) for g in generators])


def subspace_similarity(a, b) -> float:
    """Mean cos² of the principal angles between span{a_i} and span{b_j} (generators as vectors).

    1 for the same span whatever the basis, 0 for orthogonal spans; for one generator each it
    equals ``generator_cos(a, b)**2``. Over min(k_a, k_b) angles.
    """
    qa, _ = torch.linalg.qr(_flatten(a).T)
    qb, _ = torch.linalg.qr(_flatten(b).T)
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(max=1.0)
    return float((cosines**2).mean())


def bracket(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The commutator [a, b] = ab − ba."""
    return a @ b - b @ a


def structure_constants(generators) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares structure constants and closure residuals of a set of k generators.

    Returns ``(c, residual)``: c (k, k, k) with [G_i, G_j] ≈ Σ_l c[i, j, l] G_l, and residual (k, k)
    the relative misfit ‖[G_i, G_j] − Σ_l c_ijl G_l‖ / (‖G_i‖ ‖G_j‖) (0 on the diagonal).
    """
    gens = [torch.as_tensor(g).detach().to(torch.float64).cpu() for g in generators]
    basis = _flatten(gens).T  # (D, k)
    k = len(gens)
    c = torch.zeros(k, k, k, dtype=torch.float64)
    residual = torch.zeros(k, k, dtype=torch.float64)
    for i in range(k):
        for j in range(i + 1, k):
            target = bracket(gens[i], gens[j]).reshape(-1, 1)
            coeffs = torch.linalg.lstsq(basis, target).solution[:, 0]
            misfit = torch.linalg.norm(basis @ coeffs - target[:, 0]) / (gens[i].norm() * gens[j].norm())
            c[i, j], c[j, i] = coeffs, -coeffs
            residual[i, j] = residual[j, i] = misfit
    return c, residual


def closure_error(generators) -> float:
    """max over pairs of ‖[G_i, G_j] − Σ c_ij^l G_l‖ / (‖G_i‖ ‖G_j‖): 0 when the span is a Lie algebra."""
    return float(structure_constants(generators)[1].max()) if len(generators) > 1 else 0.0


def killing_form(c: torch.Tensor) -> torch.Tensor:
    """(k, k) Killing form K_ab = tr(ad_a ad_b) from structure constants c[i, j, l]; (ad_a)_lj = c[a, j, l]."""
    ad = c.transpose(1, 2)  # ad[a] maps coefficient j to coefficient l
    return torch.einsum("alj,bjl->ab", ad, ad)


def killing_signature(generators, rtol: float = 1e-8) -> tuple[int, int, int]:
    """(positive, negative, zero) eigenvalue counts of the Killing form; zero means |λ| ≤ rtol·max|λ|.

    so(3): (0, 3, 0); sl(2, R) ≅ so(2, 1): (2, 1, 0); so(1, 3): (3, 3, 0).
    """
    eig = torch.linalg.eigvalsh(killing_form(structure_constants(generators)[0]))
    scale = float(eig.abs().max()) if eig.numel() else 0.0
    tol = rtol * scale
    return int((eig > tol).sum()), int((eig < -tol).sum()), int((eig.abs() <= tol).sum())


def coefficient_cos(a: torch.Tensor, b: torch.Tensor) -> float:
    """|a·b| / (‖a‖ ‖b‖) between two coefficient vectors: sign- and scale-free (0 if either is zero)."""
    return generator_cos(torch.as_tensor(a).reshape(-1), torch.as_tensor(b).reshape(-1))


def spectral_dimension(evals: torch.Tensor, tol: float, min_gap: float) -> tuple[int, float]:
    """(dimension, gap) of the near-null part of an ascending spectrum ``evals`` (k,): all k if the
    largest is ≤ ``tol``; else the count below the largest ratio between neighbours if that ratio is
    ≥ ``min_gap`` (the gap); else 0. Values below 1e-15 of the largest are round-off, not gaps."""
    k = evals.shape[0]
    evals = evals.clamp_min(1e-15 * float(evals.abs().max()))
    if k and float(evals[-1]) <= tol:
        return k, math.inf
    ratios = evals[1:] / evals[:-1]
    if k > 1 and float(ratios.max()) >= min_gap:
        return int(ratios.argmax()) + 1, float(ratios.max())
    return 0, math.inf
