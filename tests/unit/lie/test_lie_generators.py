"""Rotation generator, exponential actions, the generator metric and the grid adjacency, in float64."""

import math

import pytest
import torch

from lconv_cli.lie import (
    antisymmetric_expm_action,
    centered_coords,
    derivative_operators_2d,
    expm_action,
    generator_cos,
    grid_adjacency_2d,
    rotation_generator_2d,
)


def test_centered_coords_are_symmetric():
    for n in (4, 7):
        c = centered_coords(n)
        torch.testing.assert_close(c, -c.flip(0), rtol=0, atol=0)
        assert c[1] - c[0] == 1


def test_derivatives_act_on_the_right_axes():
    n = 7
    dx, dy = derivative_operators_2d(n)
    w = 2 * math.pi / n
    k = torch.arange(n, dtype=torch.float64)
    f = torch.sin(w * k)[None, :].expand(n, n)  # varies along columns (x) only
    torch.testing.assert_close(
        (dx @ f.reshape(-1)).reshape(n, n), (w * torch.cos(w * k))[None, :].expand(n, n), rtol=0, atol=1e-11
    )
    torch.testing.assert_close(dy @ f.reshape(-1), torch.zeros(n * n, dtype=torch.float64), rtol=0, atol=1e-11)


@pytest.mark.parametrize("n", [5, 7, 8])
def test_rotation_generator_closed_form_on_plane_wave(n):
    # f = cos(w x): ∂x f = −w sin(w x), ∂y f = 0, so (x∂y − y∂x) f = y·w·sin(w x), exactly.
    w = 2 * math.pi / n
    k = torch.arange(n, dtype=torch.float64)
    y = centered_coords(n)[:, None].expand(n, n)
    f = torch.cos(w * k)[None, :].expand(n, n)
    expected = y * w * torch.sin(w * k)[None, :]
    torch.testing.assert_close((rotation_generator_2d(n) @ f.reshape(-1)).reshape(n, n), expected, rtol=0, atol=1e-11)


@pytest.mark.parametrize("n", [5, 7])
def test_rotation_generator_exponential_is_orthogonal_group(n):
    lmat = rotation_generator_2d(n)
    torch.testing.assert_close(lmat, -lmat.T, rtol=0, atol=1e-13)
    r1, r2 = torch.linalg.matrix_exp(0.3 * lmat), torch.linalg.matrix_exp(0.5 * lmat)
    torch.testing.assert_close(r1 @ r1.T, torch.eye(n * n, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(r1 @ r2, torch.linalg.matrix_exp(0.8 * lmat), rtol=0, atol=1e-11)


def test_rotation_preserves_radial_functions_to_first_order():
    # A rotation generator annihilates functions of r² that are band-limited: check a Gaussian is nearly fixed.
    n = 21
    x = centered_coords(n)[None, :].expand(n, n)
    y = centered_coords(n)[:, None].expand(n, n)
    f = torch.exp(-(x**2 + y**2) / 8.0).reshape(-1)
    lf = rotation_generator_2d(n) @ f
    assert lf.norm() / f.norm() < 1e-6


def _exact(lmat, theta, v):
    return torch.stack([torch.linalg.matrix_exp(t * lmat) @ vi for t, vi in zip(theta, v)])


def test_expm_action_taylor_matches_matrix_exp():
    g = torch.Generator().manual_seed(0)
    lmat = torch.randn(12, 12, generator=g, dtype=torch.float64)
    theta = torch.linspace(-1.5, 2.0, 6, dtype=torch.float64)
    v = torch.randn(6, 12, generator=g, dtype=torch.float64)
    torch.testing.assert_close(expm_action(lmat, theta, v, order=16), _exact(lmat, theta, v), rtol=1e-10, atol=1e-10)


def test_expm_action_order_one_is_recursive_lconv():
    g = torch.Generator().manual_seed(1)
    lmat = torch.randn(6, 6, generator=g, dtype=torch.float64)
    theta = torch.tensor([0.3, -0.7], dtype=torch.float64)
    v = torch.randn(2, 6, generator=g, dtype=torch.float64)
    k = 5
    expected = torch.stack(
        [torch.linalg.matrix_power(torch.eye(6, dtype=torch.float64) + t * lmat / k, k) @ vi for t, vi in zip(theta, v)]
    )
    torch.testing.assert_close(expm_action(lmat, theta, v, order=1, substeps=k), expected, rtol=1e-12, atol=1e-12)


def test_expm_action_gradient_matches_matrix_exp():
    g = torch.Generator().manual_seed(2)
    base = torch.randn(5, 5, generator=g, dtype=torch.float64)
    theta = torch.tensor([0.4, 1.1], dtype=torch.float64)
    v = torch.randn(2, 5, generator=g, dtype=torch.float64)
    grads = []
    for fn in (lambda m: expm_action(m, theta, v, order=18), lambda m: _exact(m, theta, v)):
        m = base.clone().requires_grad_(True)
        fn(m).pow(2).sum().backward()
        grads.append(m.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-9)


def test_antisymmetric_expm_action_is_exact():
    lmat = rotation_generator_2d(5)
    theta = torch.tensor([0.0, 0.5, 3.0, -2.0], dtype=torch.float64)
    v = torch.randn(4, 25, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(antisymmetric_expm_action(lmat, theta, v), _exact(lmat, theta, v), rtol=0, atol=1e-11)
    with pytest.raises(ValueError, match="antisymmetric"):
        antisymmetric_expm_action(lmat + torch.eye(25, dtype=torch.float64), theta, v)


def test_generator_cos_is_sign_and_scale_free():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(9, 9, generator=g, dtype=torch.float64)
    b = torch.randn(9, 9, generator=g, dtype=torch.float64)
    assert generator_cos(a, -3.0 * a) == pytest.approx(1.0, abs=1e-15)
    expected = abs(float((a * b).sum())) / float(a.norm() * b.norm())
    assert generator_cos(a, b) == pytest.approx(expected, abs=1e-15)
    e1 = torch.zeros(2, 2, dtype=torch.float64)
    e1[0, 1] = 1
    assert generator_cos(e1, e1.T) == 0.0
    # Two orthonormal components at 60°: cos = 0.5.
    assert generator_cos(e1, 0.5 * e1 + math.sqrt(3) / 2 * e1.T) == pytest.approx(0.5, abs=1e-15)
    assert generator_cos(torch.zeros(3, 3), a[:3, :3]) == 0.0


def test_grid_adjacency_is_the_normalised_four_neighbour_graph():
    a = grid_adjacency_2d(4, normalised=False)
    assert torch.equal(a, a.T) and a.sum(1).tolist() == [2, 3, 3, 2, 3, 4, 4, 3, 3, 4, 4, 3, 2, 3, 3, 2]
    degrees = a.sum(1)
    torch.testing.assert_close(grid_adjacency_2d(4), a / torch.sqrt(degrees[:, None] * degrees[None, :]))
