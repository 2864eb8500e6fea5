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


def spectral_norm_estimate(matrix: torch.Tensor, iters: int = 30, safety: float = 1.25) -> float:
    """An upper estimate of ‖A‖₂: ``safety`` × the power-iteration estimate on AᵀA (cheap for large d).

    Power iteration converges from below; the safety factor covers the gap in practice, and
    a remaining underestimate only raises the Taylor truncation error from the bound's
    max_step_norm^(m+1)/(m+1)! to (safety·max_step_norm)^(m+1)/(m+1)!.
    """
    rng = torch.Generator(device=matrix.device).manual_seed(0)
    v = torch.randn(matrix.shape[1], generator=rng, device=matrix.device, dtype=matrix.dtype)
    sigma = 0.0
    for _ in range(iters):
        w = matrix.T @ (matrix @ v)
        norm = float(w.norm())
        if norm == 0.0 or not math.isfinite(norm):
            return norm
        sigma, v = math.sqrt(norm), w / norm
    return safety * sigma


def expm_action_squaring(
    generator: torch.Tensor,
    theta: torch.Tensor,
    vectors: torch.Tensor,
    order: int = 12,
    max_step_norm: float = 1.0,
) -> torch.Tensor:
    """exp(θ_b L) v_b by binary powers of one matrix exponential; fast when θ‖L‖ is large.

    Each θ_b is split as θ_b = ±k_b·δ + r_b with δ‖L‖₂ = ``max_step_norm`` and |r_b| < δ.
    exp(r_b L) v_b is a Taylor series of order ``order`` (error below
    max_step_norm^(order+1)/(order+1)!), and exp(k_b δ L) is applied bit by bit with
    E_j = exp(±2^j δ L), E_0 from ``torch.linalg.matrix_exp`` and E_{j+1} = E_j². The cost is
    about order + log2(max k) batched matrix–vector products plus a few d×d products,
    against order × θ‖L‖ for plain scaling; everything is differentiable in L and θ.

    Args and result as :func:`expm_action`.
    """
    norm = spectral_norm_estimate(generator.detach())
    largest = theta.detach().abs().max().item() if theta.numel() else 0.0
    if not math.isfinite(norm * largest) or norm * largest <= max_step_norm:
        return expm_action(generator, theta, vectors, order=order, substeps=1)
    delta = max_step_norm / norm
    counts = torch.floor(theta.detach().abs() / delta)
    rest = theta - torch.sign(theta.detach()) * counts * delta
    out = expm_action(generator, rest, vectors, order=order, substeps=1)
    counts = counts.long()
    bits = int(counts.max()).bit_length()
    for sign in (1.0, -1.0):
        side = (theta.detach() * sign) > 0
        if not bool((side & (counts > 0)).any()):
            continue
        power = torch.linalg.matrix_exp(sign * delta * generator)
        for j in range(bits):
            use = side & (((counts >> j) & 1) == 1)
            if bool(use.any()):
                out = torch.where(use[:, None], out @ power.transpose(0, 1), out)
            if j + 1 < bits:
                power = power @ power
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


def real_logm(matrix: torch.Tensor, min_modulus: float = 1e-8) -> torch.Tensor:
    """Real part of the principal matrix logarithm, through the eigendecomposition (float64).

    For a matrix with no eigenvalue on the closed negative real axis the principal logarithm is
    real and ``expm(real_logm(A)) = A``. Eigenvalues on the negative axis (a bilinear rotation
    has some) have no real logarithm; their log's imaginary part ±iπ is dropped, so the result
    is then only the nearest real candidate. Raises ValueError for a (near-)singular matrix.
    """
    a = matrix.detach().to(torch.float64).cpu()
    evals, evecs = torch.linalg.eig(a)
    if float(evals.abs().min()) < min_modulus * max(float(evals.abs().max()), 1e-300):
        raise ValueError("matrix logarithm of a (near-)singular matrix")
    log = evecs @ torch.diag(torch.log(evals)) @ torch.linalg.inv(evecs)
    return log.real
