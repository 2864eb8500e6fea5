"""Test cases for discovering linear Lie algebras from an invariant: the invariant, the true algebra.

A case acts on points made of ``copies`` vectors in R^n (one generator G acts on each copy) and
names an invariant φ the symmetry must preserve. The symmetry algebra is {G : ∇φ(x)·(G x) = 0 ∀x}.

    so3   R³, φ = x² + y² + z²               so(3),     dim 3, Killing signature (0, 3, 0)
    so21  R³, φ = x² + y² − z²               so(2,1),   dim 3, Killing signature (2, 1, 0)
    so13  R⁴, φ = t² − x² − y² − z²          so(1,3),   dim 6, Killing signature (3, 3, 0)
    sl2   two vectors u, v ∈ R², φ = u₁v₂ − u₂v₁ (the area they span)
                                             sl(2,R),   dim 3, Killing signature (2, 1, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AlgebraCase:
    """A named invariant and its symmetry algebra. ``invariant`` maps (N, copies·n) points to (N,)."""

    name: str
    n: int
    copies: int
    invariant: Callable[[torch.Tensor], torch.Tensor]
    basis: Callable[[], torch.Tensor]
    signature: tuple[int, int, int]
    description: str

    @property
    def dim(self) -> int:
        return self.basis().shape[0]


def pseudo_orthogonal_basis(metric: torch.Tensor) -> torch.Tensor:
    """(n(n−1)/2, n, n) float64 basis of so(η) = {G : ηG antisymmetric} = {η⁻¹A : A antisymmetric}."""
    n = metric.shape[0]
    inverse = torch.linalg.inv(metric.to(torch.float64))
    gens = []
    for i in range(n):
        for j in range(i + 1, n):
            a = torch.zeros(n, n, dtype=torch.float64)
            a[i, j], a[j, i] = 1.0, -1.0
            gens.append(inverse @ a)
    return torch.stack(gens)


def special_linear_basis(n: int) -> torch.Tensor:
    """(n² − 1, n, n) float64 basis of sl(n, R): the off-diagonal units and diagonal differences."""
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


def _quadratic_case(
    name: str, signs: tuple[float, ...], signature: tuple[int, int, int], description: str
) -> AlgebraCase:
    metric = torch.diag(torch.tensor(signs, dtype=torch.float64))
    return AlgebraCase(
        name=name,
        n=len(signs),
        copies=1,
        invariant=lambda x: ((x * x) * metric.diagonal().to(x.dtype)).sum(-1),
        basis=lambda: pseudo_orthogonal_basis(metric),
        signature=signature,
        description=description,
    )


def _area(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0] * x[:, 3] - x[:, 1] * x[:, 2]


ALGEBRAS: dict[str, AlgebraCase] = {
    "so3": _quadratic_case("so3", (1.0, 1.0, 1.0), (0, 3, 0), "so(3): rotations of R³ keep x² + y² + z²"),
    "so21": _quadratic_case(
        "so21", (1.0, 1.0, -1.0), (2, 1, 0), "so(2,1): Lorentz group of R^{2,1}, keeps x² + y² − z²"
    ),
    "so13": _quadratic_case(
        "so13", (1.0, -1.0, -1.0, -1.0), (3, 3, 0), "so(1,3): Lorentz group, keeps t² − x² − y² − z²"
    ),
    "sl2": AlgebraCase(
        name="sl2",
        n=2,
        copies=2,
        invariant=_area,
        basis=lambda: special_linear_basis(2),
        signature=(2, 1, 0),
        description="sl(2,R): area-preserving linear maps of R², keep u₁v₂ − u₂v₁",
    ),
}


def act(generators: torch.Tensor, points: torch.Tensor, copies: int) -> torch.Tensor:
    """(k, N, copies·n): each generator (k, n, n) applied to every copy in the points (N, copies·n)."""
    k, n, _ = generators.shape
    per_copy = points.reshape(points.shape[0], copies, n)
    return torch.einsum("kij,bcj->kbci", generators, per_copy).reshape(k, points.shape[0], copies * n)


def invariance_residuals(
    generators: torch.Tensor, points: torch.Tensor, gradients: torch.Tensor, copies: int
) -> torch.Tensor:
    """(k, N) r_i(x) = ∇φ(x)·(G_i x) / (‖∇φ(x)‖ ‖x‖ ‖G_i‖_F): scale-free first-order change of φ."""
    moved = act(generators, points, copies)
    change = (moved * gradients[None]).sum(-1)
    scale = gradients.norm(dim=-1)[None] * points.norm(dim=-1)[None] * generators.flatten(1).norm(dim=-1)[:, None]
    return change / scale.clamp_min(1e-300)


def invariant_gradients(case: AlgebraCase, points: torch.Tensor) -> torch.Tensor:
    """(N, copies·n) ∇φ at each point (autograd; φ is any differentiable invariant)."""
    x = points.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(case.invariant(x).sum(), x)
    return grad.detach()
