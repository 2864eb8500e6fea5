"""Transformed image pairs: identity at t = 0, the first-order action, parameter distributions, partners."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.data.symmetry_pairs import make_symmetry_pairs, partner_indices, sample_parameters, transform_images
from lconv_cli.lie import field_basis_2d, field_vector
from tests.fake_datasets import FAMILIES, smooth_image


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest"])
def test_t_zero_is_the_identity_for_every_family(interpolation):
    image = smooth_image().float()[None].repeat(2, 1, 1)
    for name, fields in FAMILIES.items():
        out = transform_images(image, field_vector(fields), torch.zeros(2), interpolation)
        assert (out - image).abs().max() <= 1e-5, (name, interpolation)


def test_official_grid_is_not_the_identity():
    image = smooth_image().float()[None]
    out = transform_images(image, field_vector({"sct_x": 1.0}), torch.zeros(1), grid="official")
    assert float((out - image).norm() / image.norm()) > 0.03  # the official code's shrink-and-shift artefact


def first_order_error(name: str, interpolation: str, n: int = 28, eps: float = 1e-3) -> float:
    """‖(T_ε x − T_−ε x)/2ε − G x‖ / ‖G x‖ on the smooth image, G the field's SW operator (normalised coordinates)."""
    image = smooth_image(n)
    coeffs = field_vector(FAMILIES[name])
    moved = transform_images(
        image[None].repeat(2, 1, 1), coeffs, torch.tensor([eps, -eps], dtype=torch.float64), interpolation
    )
    derivative = (moved[0] - moved[1]).reshape(-1) / (2 * eps)
    operator = torch.einsum("k,kij->ij", coeffs, field_basis_2d(n, "quadratic", normalised=True))
    expected = operator @ image.reshape(-1)
    return float((derivative - expected).norm() / expected.norm())


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_small_t_matches_the_generators_first_order_action(name):
    """Bilinear resampling at ±ε averages its one-sided slopes into central differences, which
    match the SW derivative of a blob 3.5 px wide to a few per cent."""
    assert first_order_error(name, "bilinear") < 0.08


def test_bicubic_first_order_action_is_too_steep():
    """torch's bicubic kernel (a = −0.75) has slope 0.75 (f[i+1] − f[i−1]) at the nodes, 1.5× the
    central difference: its small-t action is about 1.5 G x, not G x (hence bilinear is the default)."""
    assert 0.35 < first_order_error("tx", "bicubic") < 0.6


def test_parameter_distributions_are_seeded_and_have_their_modes():
    draw = lambda dist: sample_parameters(dist, -1.0, 1.0, 20000, torch.Generator().manual_seed(3))  # noqa: E731
    assert torch.equal(draw("4modal"), draw("4modal"))
    centres = torch.tensor([-0.75, -0.25, 0.25, 0.75], dtype=torch.float64)
    near = lambda t: float(((t[:, None] - centres).abs().min(1).values < 1 / 12).double().mean())  # noqa: E731
    assert near(draw("4modal")) > 0.6 and near(draw("uniform")) < 0.4  # σ = 1/12: 68 % within one σ of a centre
    u = draw("uniform")
    assert float(u.min()) >= -1 and float(u.max()) < 1
    assert abs(float(draw("gaussian").std()) - 0.5) < 0.02


def test_different_image_partners_share_the_class():
    labels = torch.tensor([0, 1, 0, 1, 2, 0, 2, 1])
    partner = partner_indices(labels, torch.Generator().manual_seed(0))
    assert torch.equal(labels[partner], labels)
    assert (partner != torch.arange(len(labels))).all()


def test_pairs_same_and_different_image():
    images = torch.stack(
        [
            smooth_image(16).float(),
            smooth_image(16, 0.3).float(),
            smooth_image(16, 0.2).float(),
            smooth_image(16, 0.35).float(),
        ]
    )
    labels = torch.tensor([0, 0, 1, 1])
    coeffs = field_vector({"rotation": 1.0})
    same, mean, std = make_symmetry_pairs(
        images, labels, coeffs, "uniform", -0.5, 0.5, "same_image", torch.Generator().manual_seed(0)
    )
    assert torch.equal(same.source, torch.arange(4))
    expected = transform_images(images, coeffs, same.t.double())
    assert torch.allclose(same.xt, ((expected - mean) / std).reshape(4, -1), atol=1e-5)
    other, _, _ = make_symmetry_pairs(
        images, labels, coeffs, "uniform", -0.5, 0.5, "different_image", torch.Generator().manual_seed(0)
    )
    assert torch.equal(other.source, torch.tensor([1, 0, 3, 2]))
