"""Paper conventions, logs and fast exponentials, and the generator fits, in float64."""

import math

import pytest
import torch

from lconv_cli.lie import (
    bilinear_rotation_matrix,
    expm_action,
    expm_action_squaring,
    generator_cos,
    paper_rotation_generator_2d,
    real_logm,
    rotation_generator_2d,
)
from lconv_cli.lie.expm import antisymmetric_expm_action, spectral_norm_estimate
from lconv_cli.lie.fitting import (
    antisymmetric_generator,
    best_scale_residual,
    closed_form_generator,
    lstsq_transformation,
)


@pytest.mark.parametrize("n, expected", [(7, 0.2699), (20, 0.0123)])
def test_paper_reference_reproduces_the_fixed_angle_scores(n, expected):
    # The official notebooks' fixed-angle model converges to (R(π/10) − I)/θ; against their L_SW
    # it scored 0.27 (7×7) and −0.01 (20×20). The exact bilinear matrix reproduces both.
    theta = math.pi / 10
    first_order = (bilinear_rotation_matrix(n, theta) - torch.eye(n * n, dtype=torch.float64)) / theta
    assert generator_cos(first_order, paper_rotation_generator_2d(n)) == pytest.approx(expected, abs=5e-5)


def test_paper_reference_is_antisymmetric_and_differs_from_ours():
    paper = rotation_generator_2d(7, "paper")
    torch.testing.assert_close(paper, -paper.T, rtol=0, atol=1e-13)
    assert generator_cos(paper, rotation_generator_2d(7)) == pytest.approx(0.8946, abs=1e-4)
    with pytest.raises(ValueError, match="conventions"):
        rotation_generator_2d(7, "nope")


def test_real_logm_inverts_expm_and_refuses_singular():
    g = torch.Generator().manual_seed(0)
    a = 0.4 * torch.randn(6, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(real_logm(torch.linalg.matrix_exp(a)), a, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="singular"):
        real_logm(torch.zeros(3, 3, dtype=torch.float64))


def test_squaring_exponential_matches_matrix_exp_for_any_sign_and_size():
    g = torch.Generator().manual_seed(1)
    lmat = torch.randn(12, 12, generator=g, dtype=torch.float64)
    theta = torch.tensor([-2.5, -0.01, 0.0, 0.3, 1.7, 3.0], dtype=torch.float64)
    v = torch.randn(6, 12, generator=g, dtype=torch.float64)
    exact = torch.stack([torch.linalg.matrix_exp(t * lmat) @ vi for t, vi in zip(theta, v)])
    torch.testing.assert_close(expm_action_squaring(lmat, theta, v, order=14), exact, rtol=1e-10, atol=1e-10)


def test_squaring_exponential_gradient_matches_taylor():
    g = torch.Generator().manual_seed(2)
    base = 0.5 * torch.randn(8, 8, generator=g, dtype=torch.float64)
    theta = torch.linspace(-3, 3, 5, dtype=torch.float64)
    v = torch.randn(5, 8, generator=g, dtype=torch.float64)
    grads = []
    for fn in (expm_action_squaring, expm_action):
        lmat = base.clone().requires_grad_(True)
        fn(lmat, theta, v, order=16).pow(2).sum().backward()
        grads.append(lmat.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-8, atol=1e-8)


def test_spectral_norm_estimate_bounds_the_norm():
    g = torch.Generator().manual_seed(3)
    for a in (torch.randn(30, 30, generator=g, dtype=torch.float64), rotation_generator_2d(7)):
        true = float(torch.linalg.matrix_norm(a, 2))
        assert true <= spectral_norm_estimate(a) <= 1.3 * true


def _group_pairs(lmat, theta, num, seed):
    g = torch.Generator().manual_seed(seed)
    f = torch.rand(num, lmat.shape[0], generator=g, dtype=torch.float64) - 0.5
    return f, theta, antisymmetric_expm_action(lmat, theta, f)


@pytest.mark.parametrize("fixed", [True, False])
def test_closed_form_recovers_a_group_generator(fixed):
    ref = rotation_generator_2d(5)
    num = 4000  # the closed form uses the 300 smallest angles: their spread (0 to 0.06 rad) sets its error
    g = torch.Generator().manual_seed(4)
    theta = (
        torch.full((num,), 0.3, dtype=torch.float64)
        if fixed
        else torch.rand(num, generator=g, dtype=torch.float64) * 0.8
    )
    f, theta, gimg = _group_pairs(ref, theta, num, 5)
    lmat, _transform, _theta_bar = closed_form_generator(f, theta, gimg)
    assert generator_cos(lmat, ref) == pytest.approx(1.0, abs=1e-9 if fixed else 1e-7)
    torch.testing.assert_close(lmat, ref, rtol=0, atol=1e-6 if fixed else 3e-3)


def test_lstsq_transformation_is_exact_at_one_angle():
    ref = rotation_generator_2d(4)
    f, theta, gimg = _group_pairs(ref, torch.full((100,), 0.5, dtype=torch.float64), 100, 6)
    torch.testing.assert_close(
        lstsq_transformation(f, gimg, theta), torch.linalg.matrix_exp(0.5 * ref), rtol=0, atol=1e-12
    )


def test_best_scale_residual_finds_the_scale():
    ref = rotation_generator_2d(5)
    g = torch.Generator().manual_seed(7)
    f, theta, gimg = _group_pairs(ref, torch.rand(200, generator=g, dtype=torch.float64), 200, 8)
    alpha, residual = best_scale_residual(2.0 * ref, f, theta, gimg)
    assert alpha == pytest.approx(0.5, abs=1e-9) and residual < 1e-9
    alpha, residual = best_scale_residual(-ref, f, theta, gimg)
    assert alpha == pytest.approx(-1.0, abs=1e-9)
    assert best_scale_residual(torch.zeros_like(ref), f, theta, gimg) == (0.0, 1.0)


def test_best_scale_residual_at_large_rotations_of_a_large_grid():
    """At 20×20 and θ ≤ 45°, θ‖L‖ ≈ 20: the first-order scale alone lands in a far local minimum."""
    ref = rotation_generator_2d(20)
    g = torch.Generator().manual_seed(9)
    f, theta, gimg = _group_pairs(ref, math.pi / 4 * torch.rand(40, generator=g, dtype=torch.float64), 40, 10)
    alpha, residual = best_scale_residual(ref, f, theta, gimg)
    assert alpha == pytest.approx(1.0, abs=1e-9) and residual < 1e-9


def _cayley_pairs(generator: torch.Tensor, f: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(generator.shape[0], dtype=torch.float64)
    out = []
    for fi, ti in zip(f, theta):
        tau = torch.tan(ti / 2)
        out.append(torch.linalg.solve(eye - tau * generator, (eye + tau * generator) @ fi))
    return torch.stack(out)


def test_antisymmetric_generator_is_exact_on_cayley_pairs_and_fills_unlit_columns():
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=rng, dtype=torch.float64)
    generator = a - a.T
    theta = 0.3 * (torch.rand(40, generator=rng, dtype=torch.float64) - 0.5) + 0.05
    f = torch.randn(40, 6, generator=rng, dtype=torch.float64)
    fitted = antisymmetric_generator(f, theta, _cayley_pairs(generator, f, theta))
    torch.testing.assert_close(fitted, generator, rtol=1e-8, atol=1e-8)
    # inputs that never light pixel 5: its column is still found, through its row (g lights it)
    f[:, 5] = 0
    fitted = antisymmetric_generator(f, theta, _cayley_pairs(generator, f, theta))
    torch.testing.assert_close(fitted, generator, rtol=1e-6, atol=1e-6)
    # exp(θL) pairs at small angles: close, not exact (the Cayley relation is O(θ³) off)
    small = theta / 30
    g = torch.stack([torch.linalg.matrix_exp(t * generator) @ fi for fi, t in zip(f, small)])
    fitted = antisymmetric_generator(f, small, g)
    assert float((fitted * generator).sum() / (fitted.norm() * generator.norm())) > 0.999
    with pytest.raises(ValueError, match="angle is zero"):
        antisymmetric_generator(f, torch.zeros(40, dtype=torch.float64), f)
