"""The LieGAN baseline's pieces: the group action of its fields and one adversarial loss."""

import torch

from lconv_cli.data.point_clouds import point_cloud
from lconv_cli.lie.vector_fields import evaluate, linear_fields, monomial_exponents
from lconv_cli.models.liegan import Discriminator, FlowGenerator, LieGAN


def _generator(samples: torch.Tensor, degree: int, k: int = 2, coef_std: float = 0.5) -> FlowGenerator:
    return FlowGenerator(k, samples, degree, coef_std, 16, torch.Generator().manual_seed(0)).to(samples.dtype)


def test_linear_fields_act_by_the_matrix_exponential_and_match_the_rk4_flow():
    samples = torch.randn(64, 3, dtype=torch.float64)
    linear, cubic = _generator(samples, 1), _generator(samples, 3)
    with torch.no_grad():  # the cubic generator holds the same linear fields, written in its bigger basis
        cubic.coeffs.zero_()
        rows = linear.fields.reshape(2, 4, 3)
        cubic.coeffs.reshape(2, -1, 3)[:, :4] = rows * cubic.basis_rms.reshape(-1, 3)[:4]
        linear.coeffs.copy_(rows.reshape(2, -1) * linear.basis_rms)
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(1)).double()  # as the generator draws it
    expected = []
    for point, weights in zip(samples, z):
        field = (0.5 * weights) @ linear._moves()  # V = Σ z_i V_i, z = coef_std · N(0, 1)
        affine = torch.zeros(4, 4, dtype=torch.float64)
        affine[:3, :3] = field.reshape(4, 3)[1:].T
        affine[:3, 3] = field.reshape(4, 3)[0]
        group = torch.linalg.matrix_exp(affine)
        expected.append(group[:3, :3] @ point + group[:3, 3])
    moved = linear(samples, torch.Generator().manual_seed(1))
    assert torch.allclose(moved, torch.stack(expected), atol=1e-12)
    assert torch.allclose(cubic(samples, torch.Generator().manual_seed(1)), moved, atol=1e-6)


def test_fields_are_unit_rows_in_the_monomial_basis():
    samples = point_cloud("bent", 0.1, 1.5).sample(500, torch.Generator().manual_seed(0)).float()
    generator = _generator(samples, 3, k=3)
    assert torch.allclose(generator.fields.norm(dim=1), torch.ones(3), atol=1e-6)
    moves = evaluate(generator._moves().double(), samples.double(), monomial_exponents(2, 3))
    assert moves.shape == (3, 500, 2) and bool(torch.isfinite(moves).all())


def test_a_blowing_up_flow_stays_finite_and_the_loss_trains_both_players():
    samples = point_cloud("bent", 0.1, 1.5).sample(512, torch.Generator().manual_seed(0)).float()
    model = LieGAN(_generator(samples, 3, k=1, coef_std=5.0), Discriminator(2, 16), 1.0)
    moved = model.generator(samples, torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(moved).all())
    loss = model.loss(samples[:256], samples[256:], torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss)
    assert model.generator.coeffs.grad is not None and bool(torch.isfinite(model.generator.coeffs.grad).all())
    assert all(p.grad is not None for p in model.discriminator.parameters())


def test_linear_fields_layout():
    a = torch.randn(2, 3, 3, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(evaluate(linear_fields(a), x, monomial_exponents(3, 1)), torch.einsum("kij,nj->kni", a, x))
