"""Actions of matrix exponentials on batches of vectors.

Computing exp(θ_b L) v_b for a batch of different θ_b but one shared L does not need B
matrix exponentials: applying truncated Taylor series to the vectors costs only
matrix–vector products and is differentiable in L.
"""

from __future__ import annotations

import math

import torch


def expm_action(
    generator: torch.Tensor,
    theta: torch.Tensor,
    vectors: torch.Tensor,
    order: int = 12,
    substeps: int | None = None,
    max_substep_norm: float = 1.0,
    max_substeps: int = 1024,
) -> torch.Tensor:
    """Approximate exp(θ_b L) v_b by ``substeps`` steps of the order-``order`` Taylor series.

    Args:
        generator: (d, d) matrix L.
        theta: (B,) parameters θ_b.
        vectors: (B, d) vectors v_b.
        order: Taylor order m per substep. ``order=1, substeps=K`` is the recursive
            L-conv (I + θL/K)^K of Dehmamy et al.
        substeps: number of substeps s (each applies θ/s). ``None`` chooses the smallest s
            with max|θ|·‖L‖₂/s ≤ ``max_substep_norm`` (scaling; the truncation error per
            substep is then below max_substep_norm^(m+1)/(m+1)!), at most ``max_substeps``.
            Past the cap (max|θ|·‖L‖₂ > max_substeps) the result is inaccurate; that only
            happens for a generator that is blowing up, and it then overflows to inf/NaN.

    Returns:
        (B, d) tensor exp(θ_b L) v_b, same dtype as ``vectors``.
    """
    if substeps is None:
        scale = theta.detach().abs().max().item() * torch.linalg.matrix_norm(generator.detach(), 2).item()
        substeps = min(max(1, math.ceil(scale / max_substep_norm)), max_substeps) if math.isfinite(scale) else 1
    step = (theta / substeps)[:, None]
    lt = generator.transpose(0, 1)
    out = vectors
    for _ in range(substeps):
        term = out
        total = out
        for k in range(1, order + 1):
            term = (term @ lt) * (step / k)
            total = total + term
        out = total
    return out


def antisymmetric_expm_action(generator: torch.Tensor, theta: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """Exact exp(θ_b L) v_b for antisymmetric L, through the eigendecomposition of the Hermitian iL.

    Args:
        generator: (d, d) antisymmetric real matrix L.
        theta: (B,) parameters.
        vectors: (B, d) real vectors.

    Returns:
        (B, d) float64 tensor. Accurate to ~1e-13 for any θ (no Taylor truncation).
    """
    l64 = generator.to(torch.float64)
    if not torch.allclose(l64, -l64.T, atol=1e-12):
        raise ValueError("antisymmetric_expm_action needs an antisymmetric generator")
    # iL is Hermitian: iL = V diag(λ) Vᴴ, so exp(θL) = V diag(exp(−iθλ)) Vᴴ.
    evals, evecs = torch.linalg.eigh(1j * l64.to(torch.complex128))
    coeffs = vectors.to(torch.complex128) @ evecs.conj()
    coeffs = coeffs * torch.exp(-1j * theta.to(torch.float64)[:, None] * evals[None, :])
    return (coeffs @ evecs.T).real
