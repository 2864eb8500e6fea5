"""The score-matched polynomial density and the fields that keep a distribution (float64, closed forms)."""

import pytest
import torch

from lconv_cli.data.point_clouds import point_cloud
from lconv_cli.lie import subspace_similarity
from lconv_cli.lie.vector_fields import (
    closed_cut,
    continuity_residuals,
    linear_fields,
    measure_preserving_fields,
    monomial_exponents,
)
from lconv_cli.models.density import PolynomialLogDensity


def _gaussian(count: int, cov: torch.Tensor, seed: int = 0) -> torch.Tensor:
    rng = torch.Generator().manual_seed(seed)
    return torch.randn(count, cov.shape[0], generator=rng, dtype=torch.float64) @ torch.linalg.cholesky(cov).T


def test_score_matching_recovers_a_gaussian_score():
    cov = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]], dtype=torch.float64)
    density = PolynomialLogDensity.fit(_gaussian(40_000, cov), degree=2)
    points = _gaussian(50, cov, seed=1)
    expected = -points @ torch.linalg.inv(cov)
    assert torch.allclose(density.score(points), expected, rtol=0.05, atol=0.05)
    assert density.num_params == 9  # 3 linear + 6 quadratic monomials


def test_score_is_the_gradient_of_the_log_density():
    density = PolynomialLogDensity.fit(point_cloud("bent", 0.1, 1.5).sample(5000, torch.Generator().manual_seed(0)), 4)
    x = torch.randn(20, 2, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(density.log_density(x).sum(), x)
    assert torch.allclose(grad, density.score(x.detach()), atol=1e-10)


def test_a_better_density_has_a_lower_held_out_score_matching_loss():
    samples = point_cloud("bent", 0.1, 1.5).sample(20_000, torch.Generator().manual_seed(0))
    held_out = point_cloud("bent", 0.1, 1.5).sample(5_000, torch.Generator().manual_seed(1))
    gaussian, quartic = (PolynomialLogDensity.fit(samples, d) for d in (2, 4))
    assert quartic.score_matching_loss(held_out) < gaussian.score_matching_loss(held_out) - 0.1


def test_degree_below_two_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        PolynomialLogDensity.fit(torch.randn(10, 2), 1)


def test_rotations_are_exactly_the_linear_fields_that_keep_an_isotropic_gaussian():
    x = _gaussian(2000, torch.eye(3, dtype=torch.float64))
    found, evals, _gap = measure_preserving_fields(x, -x, 1, tol=1e-9, min_gap=10)  # exact score −x
    truth = point_cloud("sphere", 0.1, 1.5).symmetry(1)
    assert found.shape[0] == 3 and subspace_similarity(found, truth) > 1 - 1e-10
    assert float(evals[2]) < 1e-14 and float(evals[3]) > 1e-3


def test_the_bent_gaussians_cubic_field_keeps_it_and_is_found_from_the_exact_score():
    cloud = point_cloud("bent", 0.1, 1.5)
    x = cloud.sample(3000, torch.Generator().manual_seed(0))
    u = x[:, 1] - x[:, 0] ** 2  # log p = −(x² + u²)/2
    score = torch.stack([-x[:, 0] + 2 * x[:, 0] * u, -u], dim=1)
    truth = cloud.symmetry(3)
    assert continuity_residuals(truth, x, score, monomial_exponents(2, 3)).abs().max() < 1e-12
    found, _, _ = measure_preserving_fields(x, score, 3, tol=1e-9, min_gap=10)
    assert found.shape[0] == 1 and subspace_similarity(found, truth) > 1 - 1e-10


def test_the_cut_takes_the_largest_gap_whose_span_closes():
    """so(3) then a symmetric matrix just above it: the largest gap (after 4) gives a span that does not
    close, so the cut falls to the next gap (after 3)."""
    rotations = point_cloud("sphere", 0.1, 1.5).symmetry(1)
    stretch = linear_fields(torch.diag(torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64))[None])
    rest = torch.eye(12, dtype=torch.float64)[:8]
    fields = torch.cat([rotations, stretch, rest])
    evals = torch.tensor([1e-12] * 3 + [1e-10] + [1.0] * 8, dtype=torch.float64)
    points = torch.randn(200, 3, dtype=torch.float64)
    exponents = monomial_exponents(3, 1)
    assert closed_cut(evals, fields, points, exponents, 10.0, 1e-3, (4, 1e10)) == (3, pytest.approx(100.0))
    assert closed_cut(evals, fields, points, exponents, 1e3, 1e-3, (4, 1e10)) == (4, 1e10)  # gap 100 too small
