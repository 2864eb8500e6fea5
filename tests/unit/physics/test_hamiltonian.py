"""Spring physics in float64: potential, symplectic gradient, RK4 integrator and momenta against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from lconv_cli.physics.hamiltonian import (
    angular_momentum,
    integrate,
    linear_momentum,
    momentum_drift,
    momentum_rates,
    relative_error,
    spring_hamiltonian,
    spring_potential,
    spring_vector_field,
    symplectic_gradient,
)
from tests.fake_datasets import random_systems


def test_spring_potential_is_the_double_sum():
    z, _, springs = random_systems(3)
    q = z[:, 0]
    pairs = (springs[:, :, None] * springs[:, None, :] * (q[:, :, None] - q[:, None, :]).pow(2).sum(-1)).sum((1, 2))
    torch.testing.assert_close(spring_potential(q, springs), 0.5 * pairs, rtol=1e-12, atol=1e-12)


def test_symplectic_gradient_of_the_spring_hamiltonian_matches_the_closed_form():
    z, masses, springs = random_systems(4)
    numeric = symplectic_gradient(lambda s: spring_hamiltonian(s, masses, springs), z)
    torch.testing.assert_close(numeric, spring_vector_field(z, masses, springs), rtol=1e-12, atol=1e-12)
    # a harmonic oscillator H = (p² + q²)/2: dq/dt = p, dp/dt = −q
    state = torch.tensor([[[[0.3, -1.2]], [[0.7, 0.4]]]], dtype=torch.float64)  # (1, 2, 1, 2)
    field = symplectic_gradient(lambda s: 0.5 * s.pow(2).sum((1, 2, 3)), state)
    torch.testing.assert_close(field, torch.stack([state[:, 1], -state[:, 0]], 1), rtol=0, atol=1e-15)


def test_integrator_conserves_energy_and_both_momenta_of_the_true_system():
    z, masses, springs = random_systems(4, seed=1)
    z[:, 1] -= z[:, 1].mean(1, keepdim=True)
    times = torch.linspace(0, 1, 1001, dtype=torch.float64)  # dt 1e-3
    trajectory = integrate(lambda s: spring_vector_field(s, masses, springs), z, times)
    energy = spring_hamiltonian(trajectory, masses[:, None], springs[:, None])
    assert float(relative_error(energy, energy[:, :1].expand_as(energy), 0).max()) < 1e-9
    linear, angular = momentum_drift(trajectory)
    assert float(linear.max()) < 1e-13 and float(angular.max()) < 1e-9
    # RK4 is 4th order: the harmonic oscillator after one period at 100 steps is back to within (2π/100)^4 · O(1)
    state = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]], dtype=torch.float64)
    end = integrate(
        lambda s: torch.stack([s[:, 1], -s[:, 0]], 1), state, torch.linspace(0, 2 * math.pi, 101, dtype=torch.float64)
    )[:, -1]
    assert float((end - state).abs().max()) < 1e-5


def test_momentum_drift_and_relative_error_closed_forms():
    trajectory = torch.zeros(1, 3, 2, 2, 2, dtype=torch.float64)
    trajectory[0, :, 0, 0] = torch.tensor([1.0, 0.0])  # body 0 at (1, 0)
    trajectory[0, :, 1, 0] = torch.tensor([0.0, 2.0])  # p_0 = (0, 2): L = 2
    trajectory[0, 2, 1, 1] = torch.tensor([0.5, 0.0])  # step 2: body 1 gains p = (0.5, 0) at q = 0
    linear, angular = momentum_drift(trajectory)
    assert float(linear) == pytest.approx(0.5 / 2.0) and float(angular) == 0.0
    assert float(angular_momentum(trajectory[0, 0])) == 2.0
    assert linear_momentum(trajectory[0, 2]).tolist() == [0.5, 2.0]
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 0.0]])
    assert float(relative_error(a, b)) == 1.0 and float(relative_error(a, a)) == 0.0


def test_momentum_rates_vanish_for_the_true_field_and_not_for_a_push():
    z, masses, springs = random_systems(5, seed=5)
    linear, angular = momentum_rates(z, spring_vector_field(z, masses, springs))
    assert float(linear.max()) < 1e-14 and float(angular.max()) < 1e-14
    field = torch.zeros_like(z)
    field[:, 1, 0] = torch.tensor([1.0, 0.0], dtype=torch.float64)  # one body pushed along x, the rest at rest
    linear, angular = momentum_rates(z, field)
    assert torch.allclose(linear, torch.ones(5, dtype=torch.float64))
    assert torch.allclose(angular, (z[:, 0, 0, 1] != 0).to(torch.float64))  # torque −y: all of the torque scale
