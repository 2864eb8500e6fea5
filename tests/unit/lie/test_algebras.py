"""The algebra-discovery cases in float64: true algebras keep their invariant, close, have their signature."""

import pytest
import torch

from lconv_cli.lie import closure_error, killing_signature
from lconv_cli.lie.algebras import ALGEBRAS, invariance_residuals, invariant_gradients


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
