"""The generator-set model in float64: dimension detection by the spectral gap, polishing back to an exact algebra."""

import math

import pytest
import torch

from lconv_cli.lie import closure_error, killing_signature, subspace_similarity
from lconv_cli.lie.algebras import ALGEBRAS, invariant_gradients
from lconv_cli.models.generator_set import discovered_subspace, polish


def test_dimension_detection_sees_the_gap():
    case = ALGEBRAS["so3"]
    points = torch.randn(256, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grads = invariant_gradients(case, points)
    extra = torch.randn(1, 3, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mixed = torch.cat([case.basis(), extra])
    mixed = torch.einsum(
        "ab,bij->aij",
        torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4)))[0],
        mixed,
    )
    found, _evals, gap = discovered_subspace(mixed, points, grads, case, tol=1e-6)
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
