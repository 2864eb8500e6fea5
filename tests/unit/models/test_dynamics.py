"""Dynamics models: HLieResNet's symmetries and its size, rollout gradients (double backprop) vs finite differences."""

from __future__ import annotations

import math

import pytest
import torch

from lconv_cli.groups.point_groups import make_group
from lconv_cli.models.dynamics import FCDynamics, GraphDynamics, HamiltonianFC, HamiltonianGraph, HamiltonianLieResNet
from lconv_cli.physics.hamiltonian import integrate, spring_hamiltonian, spring_vector_field
from tests.fake_datasets import random_systems


def _random_rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


@pytest.mark.parametrize("group", ["T2", "SO2"])
def test_hlieresnet_potential_is_invariant_and_conserves_its_momentum(group):
    torch.manual_seed(0)
    model = HamiltonianLieResNet(make_group(group, 2), k=32, num_layers=2).double().eval()
    z, masses, springs = random_systems(5, seed=2)
    params = torch.stack([masses, springs], -1)
    g = torch.Generator().manual_seed(3)
    if group == "T2":
        moved = z.clone()
        moved[:, 0] += torch.randn(5, 1, 2, generator=g, dtype=torch.float64)
    else:
        moved = z @ _random_rotation(2 * math.pi * float(torch.rand((), generator=g, dtype=torch.float64))).T
    with torch.no_grad():
        h, h_moved = model.hamiltonian(z, params), model.hamiltonian(moved, params)
    potential = h - spring_hamiltonian(z, masses, torch.zeros_like(springs))  # the learned V alone
    assert float((h_moved - h).abs().max() / potential.abs().max()) <= 1e-5
    field = model(z, params).detach()
    if group == "T2":  # Σ dp_i/dt = −Σ ∂V/∂q_i = 0
        assert float(field[:, 1].sum(1).abs().max() / field[:, 1].abs().max()) < 1e-12
    else:  # dL/dt = Σ q̇ × p + q × ṗ = 0
        q, p, dq, dp = z[:, 0], z[:, 1], field[:, 0], field[:, 1]
        torque = (
            dq[..., 0] * p[..., 1] - dq[..., 1] * p[..., 0] + q[..., 0] * dp[..., 1] - q[..., 1] * dp[..., 0]
        ).sum(1)
        assert float(torque.abs().max() / (q.norm(dim=-1) * dp.norm(dim=-1)).sum(1).max()) < 1e-12


def test_the_trivial_group_is_not_translation_invariant():
    torch.manual_seed(0)
    model = HamiltonianLieResNet(make_group("Trivial", 2), k=32, num_layers=2).double().eval()
    z, masses, springs = random_systems(3)
    params = torch.stack([masses, springs], -1)
    moved = z.clone()
    moved[:, 0] += 0.5
    with torch.no_grad():
        assert (
            float((model.hamiltonian(moved, params) - model.hamiltonian(z, params)).abs().max()) > 1e-8
        )  # rounding would be ~1e-16
    centred = HamiltonianLieResNet(make_group("Trivial", 2), k=32, num_layers=2, center=True).double().eval()
    with torch.no_grad():
        torch.testing.assert_close(
            centred.hamiltonian(moved, params), centred.hamiltonian(z, params), rtol=1e-12, atol=1e-12
        )


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: HamiltonianLieResNet(make_group("T2", 2), k=16, num_layers=1),
        lambda: HamiltonianFC(6, hidden=[16]),
        lambda: HamiltonianGraph(hidden=8, num_layers=2),
        lambda: FCDynamics(6, hidden=[16]),
        lambda: GraphDynamics(hidden=8, num_layers=2),
    ],
    ids=["hlieresnet", "hfc", "hogn", "fc", "ogn"],
)
def test_rollout_loss_gradient_matches_finite_differences(make_model):
    """The parameter gradient of a rollout loss (double backprop for Hamiltonian models) against a central difference."""
    torch.manual_seed(0)
    model = make_model().double()
    z, masses, springs = random_systems(3, seed=4)
    params = torch.stack([masses, springs], -1)
    times = torch.linspace(0, 0.05, 6, dtype=torch.float64)
    target = integrate(lambda s: spring_vector_field(s, masses, springs), z, times)

    def loss() -> torch.Tensor:
        return (integrate(lambda s: model(s, params), z, times) - target).pow(2).mean()

    weights = list(model.parameters())
    grads = torch.autograd.grad(loss(), weights, allow_unused=True)  # H's constant offset does not enter the dynamics
    grads = [torch.zeros_like(w) if g is None else g for g, w in zip(grads, weights)]
    direction = [torch.randn_like(w) for w in weights]
    analytic = sum(float((g * d).sum()) for g, d in zip(grads, direction))
    eps = 1e-6
    with torch.no_grad():
        for w, d in zip(weights, direction):
            w += eps * d
        plus = float(loss())
        for w, d in zip(weights, direction):
            w -= 2 * eps * d
        minus = float(loss())
    assert analytic == pytest.approx((plus - minus) / (2 * eps), rel=1e-5, abs=1e-12)
    assert analytic != 0


def test_official_hlieresnet_size():
    assert sum(p.numel() for p in HamiltonianLieResNet(make_group("T2", 2)).parameters()) == 895_297
