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
    antisymmetric_generators,
    best_scale_residual,
    closed_form_generator,
    fit_generators,
    general_generators,
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


def test_antisymmetric_generators_fill_unlit_columns_and_are_close_on_exp_pairs():
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=rng, dtype=torch.float64)
    generator = a - a.T
    theta = 0.3 * (torch.rand(40, generator=rng, dtype=torch.float64) - 0.5) + 0.05
    f = torch.randn(40, 6, generator=rng, dtype=torch.float64)
    # inputs that never light pixel 5: its column is still found, through its row (g lights it)
    f[:, 5] = 0
    fitted = antisymmetric_generators(f, theta, _cayley_pairs_of_several(generator[None], f, theta[:, None]))
    torch.testing.assert_close(fitted[0], generator, rtol=1e-6, atol=1e-6)
    # exp(θL) pairs at small angles: close, not exact (the relation is O(θ³) off)
    small = theta / 30
    g = torch.stack([torch.linalg.matrix_exp(t * generator) @ fi for fi, t in zip(f, small)])
    assert generator_cos(antisymmetric_generators(f, small, g)[0], generator) > 0.999


def _cayley_pairs_of_several(generators: torch.Tensor, f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """g_i = (I − X_i/2)⁻¹ (I + X_i/2) f_i with X_i = Σ_k t_ik L_k: exactly g − f = (X/2)(g + f)."""
    eye = torch.eye(f.shape[1], dtype=torch.float64)
    out = []
    for fi, ti in zip(f, t):
        x = torch.einsum("k,kij->ij", ti, generators)
        out.append(torch.linalg.solve(eye - x / 2, (eye + x / 2) @ fi))
    return torch.stack(out)


def _several(antisymmetric: list[bool], dim: int = 6, pairs: int = 80, seed: int = 0):
    rng = torch.Generator().manual_seed(seed)
    mats = torch.randn(len(antisymmetric), dim, dim, generator=rng, dtype=torch.float64)
    generators = torch.stack([m - m.T if anti else m for m, anti in zip(mats, antisymmetric)])
    t = 0.2 * (torch.rand(pairs, len(antisymmetric), generator=rng, dtype=torch.float64) - 0.5)
    f = torch.randn(pairs, dim, generator=rng, dtype=torch.float64)
    return generators, f, t, _cayley_pairs_of_several(generators, f, t)


def test_several_antisymmetric_generators_are_exact_on_cayley_pairs():
    generators, f, t, g = _several([True, True, True])
    torch.testing.assert_close(antisymmetric_generators(f, t, g), generators, rtol=1e-7, atol=1e-7)
    # one generator: the coupled solve is the single closed form (one preconditioned step)
    single = antisymmetric_generators(f, t[:, :1], _cayley_pairs_of_several(generators[:1], f, t[:, :1]), max_iter=0)
    torch.testing.assert_close(single[0], generators[0], rtol=1e-7, atol=1e-7)


def test_general_generators_are_exact_on_cayley_pairs():
    generators, f, t, g = _several([False, False])
    torch.testing.assert_close(general_generators(f, t, g, rel_eps=0.0), generators, rtol=1e-7, atol=1e-7)


def test_auto_fits_antisymmetric_exactly_where_the_unconstrained_fit_is():
    generators, f, t, g = _several([True, False, True])
    fit = fit_generators(f, t, g, form="auto")
    assert fit.antisymmetric == [True, False, True]
    assert fit.symmetric_shares[0] < 1e-6 and fit.symmetric_shares[1] > 0.3
    torch.testing.assert_close(fit.generators, generators, rtol=1e-6, atol=1e-6)
    forced = fit_generators(f, t, g, form="antisymmetric")
    assert forced.antisymmetric == [True] * 3
    torch.testing.assert_close(forced.generators, -forced.generators.transpose(1, 2))
    with pytest.raises(ValueError, match="form must be one of auto, antisymmetric, general"):
        fit_generators(f, t, g, form="sparse")
