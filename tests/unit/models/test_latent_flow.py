"""The latent flow model and the pixel field action: basis operators, Taylor and RK4 exponentials, shapes."""

from __future__ import annotations

import torch

from lconv_cli.lie import field_basis_2d, field_coefficients
from lconv_cli.models.latent_flow import LatentFlowModel, PixelFieldAction
from tests.fake_datasets import smooth_image


def test_pixel_field_action_equals_the_basis_operators():
    n = 12
    alpha = torch.randn(12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    images = torch.randn(3, n * n, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    action = PixelFieldAction(n, "quadratic").double()
    expected = images @ torch.einsum("k,kij->ij", alpha, field_basis_2d(n, "quadratic", normalised=True)).T
    assert torch.allclose(action(alpha, images), expected, atol=1e-10)
    t = torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64)
    op = torch.einsum("k,kij->ij", alpha, field_basis_2d(n, "quadratic", normalised=True))
    second = images + t[:, None] * (images @ op.T) + (t[:, None] ** 2 / 2) * (images @ (op @ op).T)
    assert torch.allclose(action.taylor(alpha, t, images, 2), second, atol=1e-10)


def test_latent_flow_model_shapes_and_unit_alpha():
    model = LatentFlowModel(
        8, "quadratic", encoder_widths=[16], t_widths=[16], patch=3, channels=2, rng=torch.Generator().manual_seed(0)
    )
    x0, xt = torch.randn(4, 64), torch.randn(4, 64)
    pred, t = model(x0, xt)
    assert pred.shape == (4, 64) and t.shape == (4,)
    assert model.latent_generator().shape == (9, 9)
    assert abs(float(model.unit_alpha().detach().norm()) - 1) < 1e-6
    assert set(model.losses(x0, xt)) == {"pixel", "recon", "latent", "alpha", "l1"}
    # expm(0·G) is the identity on the latent
    z = model.encode(x0)
    assert torch.allclose(model.flow_latent(z, torch.zeros(4)), z)


def test_pixel_expm_matches_the_matrix_exponential():
    n = 12
    alpha = torch.tensor([0.2, 0.1, -0.7, 0.0, 0.7, 0.05], dtype=torch.float64)
    images = torch.randn(3, n * n, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    t = torch.tensor([0.5, -0.3, 0.0], dtype=torch.float64)
    op = torch.einsum("k,kij->ij", alpha, field_basis_2d(n, "affine", normalised=True))
    expected = torch.stack([torch.linalg.matrix_exp(ti * op) @ x for ti, x in zip(t, images)])
    got = PixelFieldAction(n, "affine").double().expm(alpha, t, images, steps=32)
    assert float((got - expected).norm() / expected.norm()) < 1e-4  # white noise: every mode up to Nyquist
    assert torch.equal(got[2], images[2])


def test_rk4_step_count_bounds_the_operator_norm():
    n = 12
    action = PixelFieldAction(n, "quadratic").double()
    for name in ("rotation", "sct_x", "translation_x"):
        alpha = field_coefficients(name, "quadratic")
        operator = torch.einsum("k,kij->ij", alpha, field_basis_2d(n, "quadratic", normalised=True))
        assert float(torch.linalg.matrix_norm(operator, ord=2)) <= action.norm_bound(alpha) * (1 + 1e-9)
        t = torch.tensor([0.9, -0.4], dtype=torch.float64)
        image = smooth_image(n).reshape(1, -1).repeat(2, 1)
        expected = torch.stack([torch.linalg.matrix_exp(ti * operator) @ x for ti, x in zip(t, image)])
        got = action.expm(alpha, t, image)  # the stable step count, chosen from the bound
        assert action.rk4_steps(alpha, t) >= 0.9 * action.norm_bound(alpha) / 2.5
        # stable, and accurate where the image has its energy (the few steps damp only near-Nyquist modes)
        assert float((got - expected).norm() / expected.norm()) < 0.02, name
