"""ExpGenerator: its exp methods agree, seeded initialisation, unknown methods refused."""

import pytest
import torch

from lconv_cli.models import ExpGenerator


def _model(method, **kwargs):
    return ExpGenerator(6, method=method, init_scale=0.3, rng=torch.Generator().manual_seed(0), **kwargs).double()


def test_exp_methods_agree_where_they_should():
    f = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    theta = torch.tensor([0.1, 0.5, -0.8, 1.2], dtype=torch.float64)
    exact = _model("matrix_exp")(f, theta)
    torch.testing.assert_close(_model("taylor", order=16)(f, theta), exact, rtol=1e-10, atol=1e-10)
    recursive = _model("recursive", recursion_steps=3)
    lmat = recursive.generator_matrix.detach()
    expected = torch.stack(
        [torch.linalg.matrix_power(torch.eye(6, dtype=torch.float64) + t * lmat / 3, 3) @ v for t, v in zip(theta, f)]
    )
    torch.testing.assert_close(recursive(f, theta), expected, rtol=1e-12, atol=1e-12)
    assert (recursive(f, theta) - exact).abs().max() > 1e-4  # K=3 is visibly biased


def test_same_seed_same_initialisation_and_bad_method():
    assert torch.equal(_model("taylor").generator_matrix, _model("taylor").generator_matrix)
    with pytest.raises(ValueError, match="method"):
        ExpGenerator(4, method="pade")
