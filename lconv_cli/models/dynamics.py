"""Dynamics models for n-body systems (LieConv paper §6): each maps a phase-space state and the
bodies' parameters to the time derivative of the state.

Shapes: state z (B, 2, n, d) with z[:, 0] positions and z[:, 1] momenta; params (B, n, 2)
holding each body's [mass, spring constant]; output dz/dt (B, 2, n, d).

- ``FCDynamics`` (``fc``): an MLP of the flattened state and parameters gives dz/dt directly
  (a neural ODE; no conservation law built in).
- ``HamiltonianFC`` (``hfc``): an MLP gives a scalar H(z, params); dz/dt = J∇H.
- ``GraphDynamics`` (``ogn``): a graph network over the fully connected graph of bodies gives
  each body's (dq/dt, dp/dt).
- ``HamiltonianGraph`` (``hogn``): the same graph network gives per-body energies summed into H.
- ``HamiltonianLieResNet`` (``hlieresnet``): H = Σ‖p_i‖²/2m_i + V_θ(q) with V_θ a LieResNet over
  the bodies (values [m, k]); V_θ is invariant under the chosen group, so by Noether's theorem
  T(2) conserves the total linear momentum and SO(2) the angular momentum about the origin.

Hamiltonian models differentiate H with autograd; in training the gradient keeps its graph, so
the rollout loss back-propagates through it (double backprop). Every activation is smooth (Swish).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from lconv_cli.groups.point_groups import PointGroup
from lconv_cli.models.lieconv import LieResNet
from lconv_cli.physics.hamiltonian import kinetic_energy, momenta, positions, symplectic_gradient


def mlp(dims: list[int]) -> nn.Sequential:
    """Linear → Swish → … → Linear through the widths ``dims`` (no activation after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(dims)):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def body_features(z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Per-body [q, p, m, k]: (B, 2, n, d), (B, n, 2) → (B, n, 2d + 2)."""
    return torch.cat([positions(z), momenta(z), params.to(z.dtype)], -1)


class DynamicsModel(nn.Module):
    """Base class: ``forward(z, params)`` → dz/dt."""


class HamiltonianModel(DynamicsModel):
    """dz/dt = J∇_z H(z, params); subclasses define ``hamiltonian(z, params)`` → (B,)."""

    def hamiltonian(self, z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return symplectic_gradient(lambda state: self.hamiltonian(state, params), z)


class FCDynamics(DynamicsModel):
    """dz/dt = MLP([z, params]) on the flattened inputs of n bodies in R^d."""

    def __init__(self, num_bodies: int, dim: int = 2, hidden: list[int] = (256, 256, 256)) -> None:
        super().__init__()
        self.net = mlp([num_bodies * (2 * dim + 2), *hidden, 2 * num_bodies * dim])

    def forward(self, z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        x = torch.cat([z.flatten(1), params.to(z.dtype).flatten(1)], -1)
        return self.net(x).view_as(z)


class HamiltonianFC(HamiltonianModel):
    """H = MLP([z, params]) → scalar."""

    def __init__(self, num_bodies: int, dim: int = 2, hidden: list[int] = (256, 256, 256)) -> None:
        super().__init__()
        self.net = mlp([num_bodies * (2 * dim + 2), *hidden, 1])

    def hamiltonian(self, z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z.flatten(1), params.to(z.dtype).flatten(1)], -1))[:, 0]


class GraphNetwork(nn.Module):
    """One message-passing block on the complete graph of n nodes (no self-edges):
    e_ij = φ_e([x_i, x_j]), out_i = φ_v([x_i, Σ_{j≠i} e_ij]). x (B, n, c_in) → (B, n, c_out)."""

    def __init__(self, c_in: int, c_out: int, hidden: int = 256, num_layers: int = 3) -> None:
        super().__init__()
        self.edge = mlp([2 * c_in] + [hidden] * num_layers)
        self.node = mlp([c_in + hidden] + [hidden] * (num_layers - 1) + [c_out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        pairs = torch.cat([x[:, :, None].expand(-1, -1, n, -1), x[:, None].expand(-1, n, -1, -1)], -1)
        off_diagonal = ~torch.eye(n, dtype=torch.bool, device=x.device)
        messages = (self.edge(pairs) * off_diagonal[..., None].to(x.dtype)).sum(2)
        return self.node(torch.cat([x, messages], -1))


class GraphDynamics(DynamicsModel):
    """OGN: each body's (dq/dt, dp/dt) from a graph network over [q, p, m, k]."""

    def __init__(self, dim: int = 2, hidden: int = 256, num_layers: int = 3) -> None:
        super().__init__()
        self.net = GraphNetwork(2 * dim + 2, 2 * dim, hidden, num_layers)

    def forward(self, z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        out = self.net(body_features(z, params))  # (B, n, 2d)
        return out.unflatten(-1, (2, -1)).transpose(1, 2)


class HamiltonianGraph(HamiltonianModel):
    """HOGN: H = Σ_i (per-body energy of a graph network over [q, p, m, k])."""

    def __init__(self, dim: int = 2, hidden: int = 256, num_layers: int = 3) -> None:
        super().__init__()
        self.net = GraphNetwork(2 * dim + 2, 1, hidden, num_layers)

    def hamiltonian(self, z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.net(body_features(z, params))[..., 0].sum(-1)


class HamiltonianLieResNet(HamiltonianModel):
    """HLieResNet: H = Σ‖p_i‖²/2m_i + V_θ(q), V_θ a LieResNet (no batch norm) over the bodies.

    Every body is in every body's neighbourhood (the official fill 1 with nbhd ≥ n, taken directly
    so V_θ has no neighbourhood-radius discontinuities). ``center`` subtracts the bodies' mean
    position first (the official model does), which makes V_θ translation invariant whatever the group.
    """

    def __init__(self, group: PointGroup, *, k: int = 384, num_layers: int = 4, center: bool = False) -> None:
        super().__init__()
        self.group, self.center = group, center
        self.potential = LieResNet(
            2,
            1,
            group,
            [k] * (num_layers + 1),
            fills=[1.0] * num_layers,
            nbhd=1 << 30,
            bn=False,
            knn=True,
            recompute=False,
        )

    def hamiltonian(self, z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        q, masses = positions(z), params[..., 0].to(z.dtype)
        if self.center:
            q = q - q.mean(1, keepdim=True)
        mask = torch.ones(q.shape[:2], dtype=torch.bool, device=q.device)
        return kinetic_energy(momenta(z), masses) + self.potential(q, params.to(z.dtype), mask)[:, 0]
