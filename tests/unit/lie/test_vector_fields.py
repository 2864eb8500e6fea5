"""Polynomial vector fields in float64: basis size, brackets against closed forms, the conformal algebra."""

import math

import pytest
import torch

from lconv_cli.lie import subspace_similarity
from lconv_cli.lie.algebras import algebra_case, invariant_gradients
from lconv_cli.lie.classification import classify
from lconv_cli.lie.vector_fields import (
    bracket_values,
    conformal_fields,
    evaluate,
    family_content,
    field_invariance_residuals,
    field_structure_constants,
    invariant_fields,
    monomial_exponents,
)

RNG = torch.Generator().manual_seed(0)


def test_the_monomial_basis_has_every_monomial_once():
    for n, degree in [(1, 3), (2, 2), (3, 2), (4, 3)]:
        exponents = monomial_exponents(n, degree)
        assert exponents.shape == (math.comb(n + degree, degree), n)
        assert len({tuple(p) for p in exponents.tolist()}) == exponents.shape[0]
        assert exponents.sum(1).tolist() == sorted(exponents.sum(1).tolist())


def test_linear_fields_bracket_as_minus_the_matrix_commutator():
    n = 3
    exponents = monomial_exponents(n, 1)
    a, b = torch.randn(2, n, n, generator=RNG, dtype=torch.float64)
    coeffs = torch.zeros(2, exponents.shape[0], n, dtype=torch.float64)
    coeffs[0, 1:], coeffs[1, 1:] = a.T, b.T  # V(x) = A x: coefficient of x_j in direction i is A[i, j]
    points = torch.randn(50, n, generator=RNG, dtype=torch.float64)
    values = evaluate(coeffs.reshape(2, -1), points, exponents)
    assert torch.allclose(values[0], points @ a.T, atol=1e-13)
    bracket = bracket_values(coeffs.reshape(2, -1), points, exponents)[0, 1]
    assert torch.allclose(bracket, points @ (b @ a - a @ b).T, atol=1e-12)


def test_translation_and_special_conformal_close_on_dilation_and_rotation():
    """[∂_i, K_j] = 2 δ_ij D + 2 (x_j ∂_i − x_i ∂_j) in closed form, checked at points. (The conformal
    algebra of Euclidean R^n is so(n+1, 1).)"""
    n = 3
    fields = conformal_fields(n)
    exponents = monomial_exponents(n, 2)
    points = torch.randn(40, n, generator=RNG, dtype=torch.float64)
    stacked = torch.cat([fields["translation"], fields["special conformal"]])
    brackets = bracket_values(stacked, points, exponents)
    dilation = evaluate(fields["dilation"], points, exponents)[0]
    for i in range(n):
        for j in range(n):
            expected = 2 * (i == j) * dilation
            rotation = torch.zeros_like(points)
            rotation[:, i] += points[:, j]
            rotation[:, j] -= points[:, i]
            assert torch.allclose(brackets[i, n + j], expected + 2 * rotation, atol=1e-12)


@pytest.mark.parametrize("n, dim, name", [(2, 6, "sl(2,C) ≅ so(3,1)"), (3, 10, "so(4,1)"), (4, 15, "so(5,1)")])
def test_the_conformal_algebra_closes_and_is_named(n, dim, name):
    basis = torch.cat(list(conformal_fields(n).values()))
    points = torch.randn(200, n, generator=RNG, dtype=torch.float64)
    c, closure = field_structure_constants(basis, points, monomial_exponents(n, 2))
    assert basis.shape[0] == dim and closure < 1e-12
    assert classify(c).name == name


@pytest.mark.parametrize("n", [2, 3])
def test_cross_ratios_have_exactly_the_conformal_fields(n):
    case = algebra_case(f"conformal{n}")
    x = torch.randn(256, 4 * n, generator=RNG, dtype=torch.float64)
    grads = invariant_gradients(case, x)
    exponents = monomial_exponents(n, 2)
    assert field_invariance_residuals(case.basis(), x, grads, 4, exponents).abs().max() < 1e-12
    found, _evals, gap = invariant_fields(x, grads, 4, n, 2, tol=1e-6, min_gap=100.0)
    assert found.shape[0] == case.dim and gap > 1e10
    assert subspace_similarity(found, case.basis()) == pytest.approx(1.0, abs=1e-10)
    counts = family_content(found, conformal_fields(n))
    assert counts == {"translation": n, "rotation": n * (n - 1) // 2, "dilation": 1, "special conformal": n}
    assert family_content(found[:1], conformal_fields(n))["special conformal"] <= 1
