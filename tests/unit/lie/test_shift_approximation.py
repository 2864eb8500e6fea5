"""1D shift approximations reproduce the paper's Figure 6 numbers, in float64."""

import pytest

from lconv_cli.lie import sw_derivative_matrix
from lconv_cli.lie.shift_approximation import shift_approximations


@pytest.mark.parametrize("d, n8, n16, expm", [(20, 0.7721, 0.9314, 0.9747), (40, 0.7470, 0.9291, 0.9874)])
def test_shift_approximations_reproduce_the_paper(d, n8, n16, expm):
    scores = shift_approximations(sw_derivative_matrix(d), 2.0)
    assert scores["n8"] == pytest.approx(n8, abs=5e-5)
    assert scores["n16"] == pytest.approx(n16, abs=5e-5)
    assert scores["exp"] == pytest.approx(expm, abs=5e-5)
