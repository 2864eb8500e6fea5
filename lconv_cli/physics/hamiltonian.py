"""Hamiltonian mechanics of N bodies in the plane: the symplectic gradient, the spring system of
the LieConv paper (§6) and the conserved quantities we measure (energy, linear and angular momentum).

A phase-space state is ``z`` (..., 2, n, d): ``z[..., 0, :, :]`` positions q, ``z[..., 1, :, :]``
momenta p of n bodies in R^d. System parameters are ``masses`` and spring constants ``springs``,
both (..., n). Units are arbitrary and consistent (the paper's: masses ~ U(0.1, 3.1), times in [0, 5]).
Everything here is a pure function, dtype-agnostic and batched over leading axes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Hamiltonian = Callable[[torch.Tensor], torch.Tensor]


def positions(z: torch.Tensor) -> torch.Tensor:
    """q (..., n, d) of a state (..., 2, n, d)."""
    return z[..., 0, :, :]


def momenta(z: torch.Tensor) -> torch.Tensor:
    """p (..., n, d) of a state (..., 2, n, d)."""
    return z[..., 1, :, :]


def symplectic_gradient(hamiltonian: Hamiltonian, z: torch.Tensor, create_graph: bool | None = None) -> torch.Tensor:
    """dz/dt = J ∇H: (dq/dt, dp/dt) = (∂H/∂p, −∂H/∂q), shape of ``z``.

    ``hamiltonian`` maps (..., 2, n, d) states to (...) energies. ``create_graph`` (default: whether
    grad mode is on at the call) keeps the graph of the gradient, so a loss on the resulting
    trajectory can be differentiated with respect to the Hamiltonian's parameters (double backprop).
    """
    if create_graph is None:
        create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        if not z.requires_grad:
            z = z.detach().requires_grad_(True)
        energy = hamiltonian(z)
        (grad,) = torch.autograd.grad(energy.sum(), z, create_graph=create_graph)
    return torch.stack([grad[..., 1, :, :], -grad[..., 0, :, :]], -3)


def kinetic_energy(p: torch.Tensor, masses: torch.Tensor) -> torch.Tensor:
    """Σ_i ‖p_i‖² / 2m_i: p (..., n, d), masses (..., n) → (...)."""
    return (p.pow(2).sum(-1) / (2 * masses)).sum(-1)


def spring_potential(q: torch.Tensor, springs: torch.Tensor) -> torch.Tensor:
    """V = ½ Σ_{i,j} k_i k_j ‖q_i − q_j‖² (every pair twice, as the paper's sum over i, j).

    q (..., n, d), springs (..., n) → (...). Expanded as Σ_i k_i Σ_j k_j ‖q_i‖² − ‖Σ_i k_i q_i‖²,
    which is exact and O(n).
    """
    total = springs.sum(-1)
    weighted = (springs[..., None] * q).sum(-2)
    return total * (springs * q.pow(2).sum(-1)).sum(-1) - weighted.pow(2).sum(-1)


def spring_hamiltonian(z: torch.Tensor, masses: torch.Tensor, springs: torch.Tensor) -> torch.Tensor:
    """H = Σ‖p‖²/2m + V(q) for states (..., 2, n, d) → (...)."""
    return kinetic_energy(momenta(z), masses) + spring_potential(positions(z), springs)


def spring_vector_field(z: torch.Tensor, masses: torch.Tensor, springs: torch.Tensor) -> torch.Tensor:
    """The closed form of J∇H for the spring system: dq_a/dt = p_a / m_a,
    dp_a/dt = −∂V/∂q_a = −2 k_a Σ_j k_j (q_a − q_j) = −2 k_a (K q_a − Σ_j k_j q_j), K = Σ_j k_j."""
    q, p = positions(z), momenta(z)
    total = springs.sum(-1)[..., None, None]
    weighted = (springs[..., None] * q).sum(-2, keepdim=True)
    force = -2 * springs[..., None] * (total * q - weighted)
    return torch.stack([p / masses[..., None], force], -3)


def linear_momentum(z: torch.Tensor) -> torch.Tensor:
    """P = Σ_i p_i: (..., 2, n, d) → (..., d)."""
    return momenta(z).sum(-2)


def angular_momentum(z: torch.Tensor) -> torch.Tensor:
    """L = Σ_i q_i × p_i about the origin (2D: the scalar q_x p_y − q_y p_x): (..., 2, n, 2) → (...)."""
    q, p = positions(z), momenta(z)
    return (q[..., 0] * p[..., 1] - q[..., 1] * p[..., 0]).sum(-1)


def momentum_drift(trajectory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest relative drift of the total linear and angular momentum along trajectories.

    trajectory (B, T, 2, n, 2) with T ≥ 1 states from t₀ → (linear (B,), angular (B,)):
    max_t ‖P(t) − P(t₀)‖ / Σ_i ‖p_i(t₀)‖ and max_t |L(t) − L(t₀)| / Σ_i ‖q_i(t₀)‖ ‖p_i(t₀)‖.
    The denominators are the scales of the summands (the total momentum itself is zero for our
    systems), so the drift is relative to what the rounding and integration errors act on.
    """
    start = trajectory[:, 0]
    linear = (linear_momentum(trajectory) - linear_momentum(start)[:, None]).norm(dim=-1).amax(1)
    linear_scale = momenta(start).norm(dim=-1).sum(-1)
    angular = (angular_momentum(trajectory) - angular_momentum(start)[:, None]).abs().amax(1)
    angular_scale = (positions(start).norm(dim=-1) * momenta(start).norm(dim=-1)).sum(-1)
    return linear / linear_scale, angular / angular_scale


def momentum_rates(z: torch.Tensor, dz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How far a vector field is from conserving the momenta at the states z, in continuous time
    (no integrator involved): z, dz/dt (..., 2, n, 2) → (linear (...), angular (...)) with
    linear = ‖Σ_i ṗ_i‖ / Σ_i ‖ṗ_i‖ and angular = |dL/dt| / Σ_i (|q̇_i × p_i| + |q_i × ṗ_i|),
    dL/dt = Σ_i q̇_i × p_i + q_i × ṗ_i. Both are zero up to rounding for a field whose Hamiltonian
    is translation (resp. rotation) invariant (Noether)."""
    q, p, dq, dp = positions(z), momenta(z), positions(dz), momenta(dz)
    cross = lambda a, b: a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]  # noqa: E731
    tiny = torch.finfo(z.dtype).tiny
    linear = dp.sum(-2).norm(dim=-1) / dp.norm(dim=-1).sum(-1).clamp_min(tiny)
    torques = (cross(dq, p), cross(q, dp))
    angular = (torques[0] + torques[1]).sum(-1).abs() / (torques[0].abs() + torques[1].abs()).sum(-1).clamp_min(tiny)
    return linear, angular


def relative_error(a: torch.Tensor, b: torch.Tensor, dims: int = 1) -> torch.Tensor:
    """‖a − b‖ / (‖a‖ + ‖b‖) over the last ``dims`` axes (0: elementwise), in [0, 1]: the rollout
    error of the HOGN and LieConv papers."""
    if dims == 0:
        a, b, dims = a[..., None], b[..., None], 1
    a, b = a.flatten(-dims), b.flatten(-dims)
    size = a.norm(dim=-1) + b.norm(dim=-1)
    return (a - b).norm(dim=-1) / size.clamp_min(torch.finfo(size.dtype).tiny)


def integrate(
    vector_field: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, times: torch.Tensor
) -> torch.Tensor:
    """Classical fixed-grid RK4 (torchdiffeq's ``rk4``, one step per interval of ``times``).

    z0 (B, ...), times (T,) → trajectory (B, T, ...) with trajectory[:, 0] = z0. Differentiable.
    """
    from torchdiffeq import odeint

    solution = odeint(lambda t, z: vector_field(z), z0, times.to(z0), method="rk4")
    return solution.transpose(0, 1)
