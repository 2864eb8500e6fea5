"""1D shifts (the paper's Figure 6 numbers) and the algebra-discovery test cases, in float64."""

import math

import pytest
import torch

from lconv_cli.data import make_shift_pairs
from lconv_cli.lie import closure_error, killing_signature, subspace_similarity, sw_derivative_matrix, sw_shift_matrix
from lconv_cli.lie.algebras import ALGEBRAS, invariance_residuals, invariant_gradients
from lconv_cli.lie.shift_approximation import shift_approximations
from lconv_cli.experiments.algebra_discovery import discovered_subspace, polish


@pytest.mark.parametrize("d, n8, n16, expm", [(20, 0.7721, 0.9314, 0.9747), (40, 0.7470, 0.9291, 0.9874)])
def test_shift_approximations_reproduce_the_paper(d, n8, n16, expm):
    scores = shift_approximations(sw_derivative_matrix(d), 2.0)
    assert scores["n8"] == pytest.approx(n8, abs=5e-5)
    assert scores["n16"] == pytest.approx(n16, abs=5e-5)
    assert scores["exp"] == pytest.approx(expm, abs=5e-5)


@pytest.mark.parametrize("d", [9, 10])
def test_shift_pairs_are_exact_sw_shifts(d):
    pairs = make_shift_pairs(d, 16, (-1.0, 1.0), torch.Generator().manual_seed(0))
    nyquist = torch.zeros(d, d, dtype=torch.float64)
    if d % 2 == 0:  # exp(zD) leaves the Nyquist mode alone, the paper's g(z) drops it
        mode = torch.cos(math.pi * torch.arange(d, dtype=torch.float64))
        nyquist = torch.outer(mode, mode) / d
    for f, z, g in zip(pairs.f.double(), pairs.theta.double(), pairs.g.double()):
        expected = (sw_shift_matrix(d, float(z), "drop") + nyquist) @ f
        torch.testing.assert_close(g, expected, rtol=0, atol=2e-6)


@pytest.mark.parametrize("name", sorted(ALGEBRAS))
def test_true_algebras_keep_their_invariant_and_close(name):
    case = ALGEBRAS[name]
    basis = case.basis()
    points = torch.randn(64, case.n * case.copies, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    residuals = invariance_residuals(basis, points, invariant_gradients(case, points), case.copies)
    assert residuals.abs().max() < 1e-13
    assert closure_error(basis) < 1e-13
    assert killing_signature(basis) == case.signature
    assert basis.shape[0] == {"so3": 3, "so21": 3, "so13": 6, "sl2": 3}[name]


def test_dimension_detection_sees_the_gap():
    case = ALGEBRAS["so3"]
    points = torch.randn(256, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grads = invariant_gradients(case, points)
    extra = torch.randn(1, 3, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mixed = torch.cat([case.basis(), extra])
    mixed = torch.einsum("ab,bij->aij", torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4)))[0], mixed)
    found, evals, gap = discovered_subspace(mixed, points, grads, case, tol=1e-6)
    assert found.shape[0] == 3 and gap > 1e6
    assert subspace_similarity(found, case.basis()) == pytest.approx(1.0, abs=1e-12)
    found, _, gap = discovered_subspace(case.basis(), points, grads, case, tol=1e-6)
    assert found.shape[0] == 3 and gap == math.inf


def test_polish_pulls_a_perturbed_algebra_back_to_an_exact_one():
    case = ALGEBRAS["so13"]
    points = torch.randn(256, case.n * case.copies, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    grads = invariant_gradients(case, points)
    noise = torch.randn(6, 4, 4, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    start = case.basis() + 0.05 * noise
    assert closure_error(start) > 1e-2
    weights = {"invariance": 1.0, "normalisation": 1.0, "orthogonality": 1.0, "closure": 0.1}
    polished = polish(start, points, grads, case, weights, max_iter=300)
    assert subspace_similarity(polished, case.basis()) == pytest.approx(1.0, abs=1e-9)
    assert closure_error(polished) < 1e-6
    assert killing_signature(polished) == case.signature
