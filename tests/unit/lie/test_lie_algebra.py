"""Vector-field bases, bilinear resampling and multi-generator metrics, in float64."""

import math

import pytest
import torch
import torch.nn.functional as F

from lconv_cli.lie import generator_cos, rotation_generator_2d
from lconv_cli.lie.generators import (
    coordinate_operators_2d,
    derivative_operators_2d,
    field_basis_2d,
    field_basis_names,
    field_coefficients,
    scaling_generator_2d,
)
from lconv_cli.lie.metrics import (
    bracket,
    closure_error,
    killing_signature,
    structure_constants,
    subspace_similarity,
)
from lconv_cli.lie.resampling import bilinear_rotation_matrix, central_difference_generator

F64 = torch.float64


def combine(coeffs, basis):
    return torch.einsum("k,kij->ij", coeffs, basis)


# --- vector-field bases ---------------------------------------------------------------------


def test_basis_sizes_and_names():
    assert field_basis_2d(5, "affine").shape == (6, 25, 25)
    assert field_basis_2d(5, "quadratic").shape == (12, 25, 25)
    assert field_basis_names("quadratic")[3] == "x²∂x" and field_basis_names("quadratic")[10] == "xy∂y"
    with pytest.raises(ValueError, match="basis"):
        field_basis_2d(5, "cubic")


@pytest.mark.parametrize("basis", ["affine", "quadratic"])
def test_named_fields_match_the_direct_operators(basis):
    n = 7
    ops = field_basis_2d(n, basis)
    dx, dy = derivative_operators_2d(n)
    for name, direct in [
        ("rotation", rotation_generator_2d(n)),
        ("scaling", scaling_generator_2d(n)),
        ("translation_x", dx),
        ("translation_y", dy),
    ]:
        c = field_coefficients(name, basis)
        assert float(c.norm()) == pytest.approx(1.0)
        assert generator_cos(combine(c, ops), direct) == pytest.approx(1.0, abs=1e-12)


def test_sct_coefficients_and_operator():
    c = field_coefficients("sct_x", "quadratic") * math.sqrt(6)
    torch.testing.assert_close(c, torch.tensor([0, 0, 0, 1, 0, -1, 0, 0, 0, 0, 2, 0], dtype=F64))
    c = field_coefficients("sct_y", "quadratic") * math.sqrt(6)
    torch.testing.assert_close(c, torch.tensor([0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 1], dtype=F64))
    n = 7
    x, y = (torch.diagonal(op) for op in coordinate_operators_2d(n))
    dx, dy = derivative_operators_2d(n)
    direct = torch.diag(x**2 - y**2) @ dx + torch.diag(2 * x * y) @ dy
    assert generator_cos(
        combine(field_coefficients("sct_x", "quadratic"), field_basis_2d(n, "quadratic")), direct
    ) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="not in the affine basis"):
        field_coefficients("sct_x", "affine")


# --- bilinear resampling --------------------------------------------------------------------


def test_bilinear_matrix_is_the_grid_sample_operation():
    n = 7
    image = torch.rand(1, 1, n, n, generator=torch.Generator().manual_seed(0), dtype=F64)
    theta = 0.4
    affine = torch.tensor(
        [[[math.cos(theta), math.sin(theta), 0.0], [-math.sin(theta), math.cos(theta), 0.0]]], dtype=F64
    )
    grid = F.affine_grid(affine, [1, 1, n, n], align_corners=False)
    direct = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(
        bilinear_rotation_matrix(n, theta) @ image.reshape(-1), direct.reshape(-1), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(bilinear_rotation_matrix(n, 0.0), torch.eye(n * n, dtype=F64), rtol=0, atol=1e-12)


def test_bilinear_rotation_is_not_a_group():
    n = 7
    a, b = bilinear_rotation_matrix(n, 0.3), bilinear_rotation_matrix(n, 0.5)
    assert float((a @ b - bilinear_rotation_matrix(n, 0.8)).norm()) > 0.1


@pytest.mark.parametrize("n", [5, 7, 20])
def test_bilinear_generator_matches_central_differences(n):
    d = (torch.diag(torch.ones(n - 1, dtype=F64), 1) - torch.diag(torch.ones(n - 1, dtype=F64), -1)) / 2
    eye = torch.eye(n, dtype=F64)
    x, y = coordinate_operators_2d(n)
    expected = -(x @ torch.kron(d, eye) - y @ torch.kron(eye, d))
    torch.testing.assert_close(central_difference_generator(n, 1e-8), expected, rtol=0, atol=1e-6)


# --- multi-generator metrics ------------------------------------------------------------------


def so3():
    gens = torch.zeros(3, 3, 3, dtype=F64)
    for i, (j, k) in enumerate([(1, 2), (2, 0), (0, 1)]):
        gens[i, j, k], gens[i, k, j] = -1.0, 1.0
    return list(gens)


def sl2():
    return [torch.tensor(m, dtype=F64) for m in ([[1, 0], [0, -1]], [[0, 1], [0, 0]], [[0, 0], [1, 0]])]


def so13():
    eta = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=F64))
    gens = []
    for i in range(4):
        for j in range(i + 1, 4):
            e = torch.zeros(4, 4, dtype=F64)
            e[i, j], e[j, i] = 1.0, -1.0
            gens.append(e @ eta)  # Aᵀη + ηA = 0
    return gens


def test_so3_structure_constants_are_levi_civita():
    c, residual = structure_constants(so3())
    assert float(residual.max()) < 1e-14
    assert c[0, 1, 2] == pytest.approx(1.0) and c[1, 2, 0] == pytest.approx(1.0) and c[1, 0, 2] == pytest.approx(-1.0)
    assert closure_error(so3()) < 1e-14


@pytest.mark.parametrize("algebra, signature", [(so3, (0, 3, 0)), (sl2, (2, 1, 0)), (so13, (3, 3, 0))])
def test_killing_signatures(algebra, signature):
    gens = algebra()
    assert closure_error(gens) < 1e-14
    assert killing_signature(gens) == signature


def test_lorentz_generators_preserve_the_minkowski_form():
    eta = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=F64))
    for a in so13():
        torch.testing.assert_close(a.T @ eta + eta @ a, torch.zeros(4, 4, dtype=F64))


def test_closure_error_detects_a_non_algebra():
    h, e, f = sl2()
    assert closure_error([e, f]) == pytest.approx(float(h.norm() / (e.norm() * f.norm())))  # [E, F] = H ∉ span{E, F}
    torch.testing.assert_close(bracket(e, f), h)


def test_subspace_similarity():
    gens = so3()
    mix = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, -3.0], [1.0, 0.0, 1.0]], dtype=F64)
    mixed = [sum(mix[i, j] * gens[j] for j in range(3)) for i in range(3)]
    assert subspace_similarity(gens, mixed) == pytest.approx(1.0, abs=1e-12)
    assert subspace_similarity(gens[:2], [gens[0], gens[2]]) == pytest.approx(0.5, abs=1e-12)
    sym = [torch.eye(3, dtype=F64)]
    assert subspace_similarity(gens, sym) == pytest.approx(0.0, abs=1e-12)
    a, b = torch.randn(2, 4, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    assert subspace_similarity([a], [b]) == pytest.approx(generator_cos(a, b) ** 2, abs=1e-12)
