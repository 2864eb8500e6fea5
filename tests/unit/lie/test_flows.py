"""Flows of the planar vector fields in float64: closed forms, one-parameter groups, SCT directions, basis fits."""

from __future__ import annotations

import math

import pytest
import torch

from lconv_cli.lie import field_coefficients, field_vector
from lconv_cli.lie.flows import fit_field_coefficients, flow_points, rk4_flow, sct_direction
from tests.fake_datasets import FAMILIES


def closed_form_maps(t: float) -> dict[str, callable]:
    """Point maps written out by hand (x, y arrays → x', y'), independent of lconv_cli.lie.flows."""
    c, s, e = math.cos(t), math.sin(t), math.exp(t)

    def sct(b):
        def apply(x, y):
            sq = x * x + y * y
            den = 1 - 2 * (b[0] * x + b[1] * y) + (b[0] ** 2 + b[1] ** 2) * sq
            return (x - b[0] * sq) / den, (y - b[1] * sq) / den

        return apply

    return {
        "translation_x": lambda x, y: (x + t, y),
        "translation_y": lambda x, y: (x, y + t),
        "rotation": lambda x, y: (c * x - s * y, s * x + c * y),  # flow of x∂y − y∂x
        "scaling": lambda x, y: (e * x, e * y),
        "shear": lambda x, y: (x + t * y, y),
        "sct_x": sct((t, 0.0)),
        "sct_y": sct((0.0, t)),
    }


@pytest.fixture(scope="module")
def points() -> torch.Tensor:
    return (torch.rand(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1) * 0.9


@pytest.mark.parametrize("name", sorted(closed_form_maps(0.0)))
def test_flows_match_closed_forms(name, points):
    coeffs = field_vector({name: 1.0})
    t = torch.tensor([-0.3, 0.2, 0.45], dtype=torch.float64)
    got = flow_points(coeffs, t, points)
    numeric = rk4_flow(coeffs, t, points, steps=200)
    for i, ti in enumerate(t.tolist()):
        x, y = closed_form_maps(ti)[name](points[:, 0], points[:, 1])
        expected = torch.stack([x, y], -1)
        assert torch.allclose(got[i], expected, atol=1e-12, rtol=0)
        assert torch.allclose(numeric[i], expected, atol=1e-9, rtol=0)


def test_flows_are_one_parameter_groups(points):
    for fields in FAMILIES.values():
        coeffs = field_vector(fields)
        a, b = 0.17, -0.29
        composed = flow_points(coeffs, torch.tensor([a]), flow_points(coeffs, torch.tensor([b]), points)[0])[0]
        assert torch.allclose(composed, flow_points(coeffs, torch.tensor([a + b]), points)[0], atol=1e-9)
        assert torch.equal(flow_points(coeffs, torch.zeros(1), points)[0], points)


def test_sct_direction_reads_pure_scts_only():
    assert torch.allclose(
        sct_direction(field_vector({"sct_x": 2.0, "sct_y": -1.0})), torch.tensor([2.0, -1.0], dtype=torch.float64)
    )
    assert sct_direction(field_vector({"sct_x": 1.0, "translation_x": 1.0})) is None
    assert sct_direction(field_vector({"rotation": 1.0})) is None or field_vector({"rotation": 1.0})[3:].abs().sum() > 0


@pytest.mark.parametrize("name", sorted(closed_form_maps(0.0)))
def test_basis_expansion_of_each_true_field_is_recovered_from_its_vector_field(name, points):
    """Velocities by central differences of the hand-written maps, fitted in the quadratic basis,
    give the toolkit's coefficients (e.g. SCT_x → (0,0,0,1,0,−1, 0,0,0,0,2,0)/√6)."""
    h = 1e-5
    (xp, yp), (xm, ym) = (closed_form_maps(s)[name](points[:, 0], points[:, 1]) for s in (h, -h))
    velocity = torch.stack([(xp - xm) / (2 * h), (yp - ym) / (2 * h)], -1)
    fitted = fit_field_coefficients(points, velocity)
    expected = field_coefficients(name, "quadratic")
    assert torch.allclose(fitted / fitted.norm(), expected, atol=1e-8)
    if expected[[3, 4, 5, 9, 10, 11]].abs().max() == 0:
        affine = fit_field_coefficients(points, velocity, "affine")
        assert torch.allclose(affine / affine.norm(), field_coefficients(name, "affine"), atol=1e-8)


def test_sct_coefficients_are_the_derived_ones():
    root6 = math.sqrt(6)
    assert torch.allclose(
        field_coefficients("sct_x", "quadratic"),
        torch.tensor([0, 0, 0, 1, 0, -1, 0, 0, 0, 0, 2, 0], dtype=torch.float64) / root6,
    )
    assert torch.allclose(
        field_coefficients("sct_y", "quadratic"),
        torch.tensor([0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 1], dtype=torch.float64) / root6,
    )
    with pytest.raises(ValueError, match="not in the affine basis"):
        field_coefficients("sct_x", "affine")
