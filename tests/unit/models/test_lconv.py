"""The L-conv layer: its formula, fixed generators and shift equivariance; RecursiveAngleNet's initialisation."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.lie import derivative_operators_2d
from lconv_cli.models import LConv, RecursiveAngleNet, num_params


def _dense_formula(layer: LConv, f: torch.Tensor) -> torch.Tensor:
    """σ(f W0ᵀ + Σ_i (L_i f) W_iᵀ + Σ biases), written out term by term."""
    out = f @ layer.weights[0].T
    for i, gen in enumerate(layer.generator_matrices):
        out = out + (gen @ f) @ layer.weights[i + 1].T
    if layer.bias is not None:
        out = out + (layer.bias.sum(0) if layer.bias.ndim == 2 else layer.bias)
    return layer.activation(out)


@pytest.mark.parametrize(
    "kind, bias, activation",
    [
        ("dense", "none", "none"),
        ("low_rank", "per_term", "relu"),
        ("low_rank", "shared", "tanh"),
        ("fixed", "shared", "relu"),
    ],
)
def test_lconv_equals_its_formula(kind, bias, activation):
    torch.manual_seed(0)
    d, k = 12, 3
    fixed = torch.randn(k, d, d) if kind == "fixed" else None
    layer = LConv(
        d, k, 4, 5, parametrisation=kind, rank=2, fixed_generators=fixed, bias=bias, activation=activation
    ).double()
    if layer.bias is not None:
        torch.nn.init.normal_(layer.bias)
    f = torch.randn(6, d, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(f), _dense_formula(layer, f), rtol=1e-12, atol=1e-12)
    if kind == "low_rank":
        assert torch.linalg.matrix_rank(layer.generator_matrices[0]) == 2
        assert num_params(layer) == k * 2 * d * 2 + (k + 1) * 4 * 5 + {"per_term": (k + 1) * 5, "shared": 5}[bias]
    if kind == "fixed":
        assert "generators" not in dict(layer.named_parameters())


def _shift_columns(f: torch.Tensor, n: int) -> torch.Tensor:
    """Cyclic shift by one pixel along x of (B, n², C) features on an n × n grid."""
    b, _, c = f.shape
    return f.reshape(b, n, n, c).roll(1, dims=2).reshape(b, n * n, c)


def test_fixed_translation_generators_commute_with_the_shift():
    n = 6
    gens = torch.stack(derivative_operators_2d(n))
    layer = LConv(n * n, 2, 3, 4, fixed_generators=gens, bias="per_term", activation="relu").double()
    torch.nn.init.normal_(layer.bias)
    f = torch.randn(5, n * n, 3, dtype=torch.float64)
    torch.testing.assert_close(layer(_shift_columns(f, n)), _shift_columns(layer(f), n), rtol=1e-10, atol=1e-10)
    # A generic (learned) generator does not: the check can fail.
    free = LConv(n * n, 2, 3, 4, parametrisation="dense").double()
    assert (free(_shift_columns(f, n)) - _shift_columns(free(f), n)).abs().max() > 1e-2


def test_lconv_layer_with_fixed_generators():
    gens = torch.randn(2, 5, 5)
    layer = LConv(5, 2, 3, 4, fixed_generators=gens, rng=torch.Generator().manual_seed(0))
    assert "generators" not in dict(layer.named_parameters()) and torch.equal(layer.generators, gens)
    h = torch.randn(7, 5, 3)  # (batch, pixels, channels)
    expected = h @ layer.weights[0].T
    for i in range(2):
        expected = expected + (gens[i] @ h) @ layer.weights[i + 1].T
    torch.testing.assert_close(layer(h), expected, rtol=1e-5, atol=1e-5)
    net = RecursiveAngleNet(5, channels=4, rec=2, hidden=3, rng=torch.Generator().manual_seed(0))
    assert net(torch.randn(6, 5), torch.randn(6, 5)).shape == (6,)


def test_fixed_generators_with_a_low_rank_correction_start_fixed_and_learn_only_the_correction():
    gens = torch.randn(2, 6, 6)
    rng = torch.Generator().manual_seed(0)
    layer = LConv(6, 2, 3, 4, parametrisation="fixed_low_rank", rank=2, fixed_generators=gens, rng=rng)
    fixed = LConv(6, 2, 3, 4, fixed_generators=gens)
    fixed.weights.data.copy_(layer.weights.data)
    h = torch.randn(5, 6, 3)
    torch.testing.assert_close(layer(h), fixed(h))  # the correction starts at zero
    assert set(dict(layer.named_parameters())) == {"weights", "left", "right"}
    layer(h).pow(2).sum().backward()
    assert layer.left.grad.abs().max() > 0 and torch.equal(layer.generators, gens)
    with torch.no_grad():
        layer.left.add_(torch.randn(2, 6, 2))
    torch.testing.assert_close(layer.generator_matrices, gens + layer.left @ layer.right)
    expected = h @ layer.weights[0].T + sum(
        (layer.generator_matrices[i] @ h) @ layer.weights[i + 1].T for i in range(2)
    )
    torch.testing.assert_close(layer(h), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="needs a rank"):
        LConv(6, 2, 3, 4, parametrisation="fixed_low_rank", fixed_generators=gens)


def test_recursive_angle_net_starts_like_the_official_code():
    """kaiming_normal_ on (1, d, d) and (1, C, C) tensors: std √2/d and √2/C (fan_in = d², C²)."""
    net = RecursiveAngleNet(400, channels=10, rng=torch.Generator().manual_seed(0))
    reference_l, reference_w = torch.empty(1, 400, 400), torch.empty(1, 10, 10)
    torch.nn.init.kaiming_normal_(reference_l)
    torch.nn.init.kaiming_normal_(reference_w)
    assert float(net.core.generators.std()) == pytest.approx(float(reference_l.std()), rel=0.02)
    assert float(net.core.generators.std()) == pytest.approx(2**0.5 / 400, rel=0.02)
    assert float(net.core.weights.std()) == pytest.approx(2**0.5 / 10, rel=0.25)
