"""Explicit float64 bases of the classical matrix Lie algebras (real matrices; complex ones realified).

Each function returns (dim, N, N): so(p,q), sl(n,R), sp(2n,R), su(p,q) and sl(n,C) as real algebras.
A complex N×N matrix X = A + iB is realified as the 2N×2N real matrix [[A, −B], [B, A]].
"""

from __future__ import annotations

import torch


def pseudo_orthogonal_basis(metric: torch.Tensor) -> torch.Tensor:
    """(n(n−1)/2, n, n) basis of so(η) = {G : ηG antisymmetric} = {η⁻¹A : A antisymmetric}."""
    n = metric.shape[0]
    inverse = torch.linalg.inv(metric.to(torch.float64))
    gens = []
    for i in range(n):
        for j in range(i + 1, n):
            a = torch.zeros(n, n, dtype=torch.float64)
            a[i, j], a[j, i] = 1.0, -1.0
            gens.append(inverse @ a)
    return torch.stack(gens)


def signature_metric(p: int, q: int) -> torch.Tensor:
    """diag(+1 × p, −1 × q), float64."""
    return torch.diag(torch.tensor([1.0] * p + [-1.0] * q, dtype=torch.float64))


def so_basis(p: int, q: int = 0) -> torch.Tensor:
    """so(p, q) on R^{p+q}: keeps x₁² + … + x_p² − x_{p+1}² − … − x_{p+q}²."""
    return pseudo_orthogonal_basis(signature_metric(p, q))


def special_linear_basis(n: int) -> torch.Tensor:
    """(n² − 1, n, n) basis of sl(n, R): the off-diagonal units and diagonal differences."""
    gens = []
    for i in range(n):
        for j in range(n):
            if i != j:
                e = torch.zeros(n, n, dtype=torch.float64)
                e[i, j] = 1.0
                gens.append(e)
    for i in range(n - 1):
        h = torch.zeros(n, n, dtype=torch.float64)
        h[i, i], h[i + 1, i + 1] = 1.0, -1.0
        gens.append(h)
    return torch.stack(gens)


def symplectic_form(n: int) -> torch.Tensor:
    """J = [[0, I_n], [−I_n, 0]] (2n, 2n), float64: ω(u, v) = uᵀ J v."""
    eye = torch.eye(n, dtype=torch.float64)
    zero = torch.zeros(n, n, dtype=torch.float64)
    return torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)])


def symplectic_basis(n: int) -> torch.Tensor:
    """(n(2n+1), 2n, 2n) basis of sp(2n, R) = {G : GᵀJ + JG = 0} = {J⁻¹S : S symmetric}."""
    inverse = torch.linalg.inv(symplectic_form(n))
    gens = []
    for i in range(2 * n):
        for j in range(i, 2 * n):
            s = torch.zeros(2 * n, 2 * n, dtype=torch.float64)
            s[i, j] = s[j, i] = 1.0
            gens.append(inverse @ s)
    return torch.stack(gens)


def realify(x: torch.Tensor) -> torch.Tensor:
    """(…, N, N) complex → (…, 2N, 2N) real [[A, −B], [B, A]]."""
    a, b = x.real.to(torch.float64), x.imag.to(torch.float64)
    return torch.cat([torch.cat([a, -b], -1), torch.cat([b, a], -1)], -2)


def special_unitary_basis(p: int, q: int = 0) -> torch.Tensor:
    """su(p, q) = {X ∈ sl(p+q, C) : X†η + ηX = 0}, dim (p+q)² − 1, realified on R^{2(p+q)}."""
    n = p + q
    eta = torch.diag(torch.tensor([1.0] * p + [-1.0] * q, dtype=torch.complex128))
    gens = []
    for i in range(n):
        for j in range(i + 1, n):
            for h in (1.0, 1j):  # anti-Hermitian E_ij − E_ji and i(E_ij + E_ji)
                a = torch.zeros(n, n, dtype=torch.complex128)
                a[i, j], a[j, i] = h, -complex(h).conjugate()
                gens.append(eta @ a)
    for i in range(n - 1):  # diagonal, imaginary, traceless: commutes with η
        x = torch.zeros(n, n, dtype=torch.complex128)
        x[i, i], x[i + 1, i + 1] = 1j, -1j
        gens.append(x)
    return realify(torch.stack(gens))


def complex_special_linear_basis(n: int) -> torch.Tensor:
    """sl(n, C) as a real algebra: the sl(n, R) basis and i times it, realified, dim 2(n² − 1)."""
    real = special_linear_basis(n).to(torch.complex128)
    return realify(torch.cat([real, 1j * real]))
