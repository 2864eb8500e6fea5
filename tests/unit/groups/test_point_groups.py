"""LieConv groups in float64: closed-form exp/log, lifting, pair coordinates and distances."""

from __future__ import annotations

import math

import pytest
import torch

from lconv_cli.errors import UserError
from lconv_cli.groups.lie_groups import (
    cosc,
    coscc,
    half_cot,
    hat,
    se2_exp,
    se2_log,
    se3_exp,
    se3_log,
    sinc,
    sincc,
    so3_exp,
    so3_log,
    uniform_rotation_3d,
    vee,
    wrap_angle,
)
from lconv_cli.groups.point_groups import SE2, SE3, SO2, SO3, RxSO2, Translations, Trivial, make_group

RNG = lambda seed=0: torch.Generator().manual_seed(seed)  # noqa: E731


def random_axis_angles(n: int, seed: int = 0) -> torch.Tensor:
    """Axis-angle vectors with angles spread over [0, π), including tiny and near-π ones."""
    g = RNG(seed)
    axis = torch.randn(n, 3, generator=g, dtype=torch.float64)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    angles = torch.cat(
        [
            torch.rand(n - 6, generator=g, dtype=torch.float64) * math.pi,
            torch.tensor([0.0, 1e-9, 1e-4, 0.069, math.pi - 1e-3, math.pi - 1e-7], dtype=torch.float64),
        ]
    )
    return axis * angles[:, None]


@pytest.mark.parametrize(
    "fn,closed",
    [
        (sinc, lambda t: torch.sin(t) / t),
        (cosc, lambda t: (1 - torch.cos(t)) / t**2),
        (sincc, lambda t: (t - torch.sin(t)) / t**3),
        (half_cot, lambda t: (t / 2) / torch.tan(t / 2)),
        (coscc, lambda t: (1 - t * torch.sin(t) / (2 * (1 - torch.cos(t)))) / t**2),
    ],
)
def test_series_branches_match_closed_forms_at_the_switch(fn, closed):
    t = torch.tensor([0.07, 0.5, 2.0, -1.0], dtype=torch.float64)
    assert torch.allclose(fn(t), closed(t), rtol=1e-12, atol=0)
    below, above = fn(torch.tensor([0.07 - 1e-12, 0.07], dtype=torch.float64))  # series | closed form
    assert abs(float(below - above)) < 1e-10 * abs(float(above))
    assert torch.isfinite(fn(torch.zeros(1, dtype=torch.float64))).all()


def test_so3_exp_is_the_matrix_exponential_and_log_inverts_it():
    omega = random_axis_angles(200)
    rotation = so3_exp(omega)
    assert torch.allclose(rotation, torch.linalg.matrix_exp(hat(omega)), atol=1e-12)
    assert torch.allclose(
        rotation @ rotation.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(200, 3, 3), atol=1e-12
    )
    assert (so3_log(rotation) - omega).abs().max() < 1e-6
    assert torch.allclose(so3_exp(so3_log(rotation)), rotation, atol=1e-12)


def test_so3_log_at_exactly_pi_gives_a_valid_angle_pi_vector():
    rotation = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))  # π about x
    omega = so3_log(rotation)
    assert torch.allclose(omega.abs(), torch.tensor([math.pi, 0, 0], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(so3_exp(omega), rotation, atol=1e-12)


def test_hat_vee_and_cross_product():
    w, v = torch.randn(2, 10, 3, generator=RNG(), dtype=torch.float64)
    assert torch.allclose(hat(w) @ v[..., None], torch.linalg.cross(w, v)[..., None])
    assert torch.allclose(vee(hat(w)), w)


def test_se3_exp_matches_the_matrix_exponential_and_round_trips():
    xi = torch.cat([random_axis_angles(100, 1), torch.randn(100, 3, generator=RNG(2), dtype=torch.float64) * 3], -1)
    twist = torch.zeros(100, 4, 4, dtype=torch.float64)
    twist[:, :3, :3], twist[:, :3, 3] = hat(xi[:, :3]), xi[:, 3:]
    matrix = se3_exp(xi)
    assert torch.allclose(matrix, torch.linalg.matrix_exp(twist), atol=1e-11)
    assert (se3_log(matrix) - xi).abs().max() < 1e-6
    assert torch.allclose(se3_exp(se3_log(matrix)), matrix, atol=1e-10)


def test_se2_exp_matches_the_matrix_exponential_and_round_trips():
    g = RNG(3)
    theta = torch.cat(
        [
            (torch.rand(97, generator=g, dtype=torch.float64) * 2 - 1) * math.pi,
            torch.tensor([0.0, 1e-8, 0.05], dtype=torch.float64),
        ]
    )
    xi = torch.cat([theta[:, None], torch.randn(100, 2, generator=g, dtype=torch.float64) * 3], -1)
    twist = torch.zeros(100, 3, 3, dtype=torch.float64)
    twist[:, 0, 1], twist[:, 1, 0], twist[:, :2, 2] = -theta, theta, xi[:, 1:]
    matrix = se2_exp(xi)
    assert torch.allclose(matrix, torch.linalg.matrix_exp(twist), atol=1e-11)
    assert (se2_log(matrix) - xi).abs().max() < 1e-6


def test_wrap_angle_range():
    theta = torch.linspace(-20, 20, 1001, dtype=torch.float64)
    wrapped = wrap_angle(theta)
    assert (wrapped > -math.pi - 1e-12).all() and (wrapped <= math.pi + 1e-12).all()
    assert torch.allclose(torch.cos(wrapped), torch.cos(theta)) and torch.allclose(torch.sin(wrapped), torch.sin(theta))


def test_uniform_rotations_are_haar_distributed():
    rotations = uniform_rotation_3d(torch.rand(20000, 3, generator=RNG(4), dtype=torch.float64))
    angle = so3_log(rotations).norm(dim=-1)
    # Haar: the rotation angle has density (1 - cos θ)/π on [0, π]; compare the mass below π/2.
    expected = (math.pi / 2 - 1) / math.pi
    assert abs(float((angle < math.pi / 2).double().mean()) - expected) < 0.01
    assert torch.allclose(rotations.mean(0), torch.zeros(3, 3, dtype=torch.float64), atol=0.02)


ALL_GROUPS = [Trivial(2), Translations(2), SO2(), RxSO2(), SE2(), Trivial(3), Translations(3), SO3(), SE3()]


def project(group, elems, orbits):
    """The point a lifted element (with its orbit id) stands for: u · o."""
    if isinstance(group, SO2):
        return orbits * torch.stack([torch.cos(elems[..., 0]), torch.sin(elems[..., 0])], -1)
    if isinstance(group, RxSO2):
        return torch.exp(elems[..., :1]) * torch.stack([torch.cos(elems[..., 1]), torch.sin(elems[..., 1])], -1)
    if isinstance(group, SO3):
        return elems.unflatten(-1, (3, 3))[..., :, 0] * orbits
    if isinstance(group, SE2):
        return elems[..., 1:]
    if isinstance(group, SE3):
        return elems[..., 9:]
    return elems


@pytest.mark.parametrize("group", ALL_GROUPS, ids=lambda g: g.name)
def test_lift_shapes_and_projection(group):
    x = torch.randn(4, 7, group.dim, generator=RNG(5), dtype=torch.float64) + 0.1
    elems, orbits = group.lift(x, 3)
    assert elems.shape == (4, 7, 3, group.elem_dim)
    assert orbits.shape == (4, 7, 3, group.orbit_dim)
    recovered = project(group, elems, orbits)
    assert torch.allclose(recovered, x[:, :, None].expand_as(recovered), atol=1e-12)


@pytest.mark.parametrize("group", ALL_GROUPS, ids=lambda g: g.name)
def test_pair_coordinates_and_distance_are_left_invariant(group):
    x = torch.randn(2, 9, group.dim, generator=RNG(6), dtype=torch.float64)
    elems, orbits = group.lift(x, 2)
    elems, orbits = elems.flatten(1, 2), orbits.flatten(1, 2)
    g = group.random_element(RNG(7))
    moved = group.act_on_elements(g, elems)
    pair = lambda e: group.kernel_input(e[:, :, None], e[:, None], orbits[:, :, None], orbits[:, None])  # noqa: E731
    dist = lambda e: group.distance(e[:, :, None], e[:, None], orbits[:, :, None], orbits[:, None])  # noqa: E731
    assert (pair(moved) - pair(elems)).abs().max() < 1e-9
    assert (dist(moved) - dist(elems)).abs().max() < 1e-9
    assert pair(elems).shape[-1] == group.kernel_dim
    assert (dist(elems) >= 0).all()


@pytest.mark.parametrize(
    "group", [Translations(2), SO2(), RxSO2(), SE2(), Translations(3), SO3(), SE3()], ids=lambda g: g.name
)
def test_lifting_is_equivariant_up_to_the_stabiliser(group):
    """lift(g·x) and g·lift(x) stand for the same points g·x, with the same orbit ids."""
    x = torch.randn(3, 5, group.dim, generator=RNG(8), dtype=torch.float64) + 0.2
    g = group.random_element(RNG(9))
    lifted_moved, q_moved = group.lift(group.act_on_points(g, x), 2)
    elems, q = group.lift(x, 2)
    target = group.act_on_points(g, x)[:, :, None].expand(3, 5, 2, group.dim)
    assert torch.allclose(project(group, lifted_moved, q_moved), target, atol=1e-9)
    assert torch.allclose(project(group, group.act_on_elements(g, elems), q), target, atol=1e-9)
    assert torch.allclose(q_moved, q, atol=1e-9)


def test_trivial_group_sees_absolute_positions():
    group = Trivial(2)
    u, v = torch.randn(2, 5, 2, generator=RNG(12), dtype=torch.float64)
    assert torch.equal(group.kernel_input(u, v, None, None), torch.cat([u, v], -1))
    assert not torch.allclose(group.kernel_input(u + 1, v + 1, None, None), group.kernel_input(u, v, None, None))


def test_so3_stabiliser_angles_are_uniform():
    """The lifted rotations F(x) R_x(θ) have θ uniform on [0, 2π): the stabiliser's Haar measure."""
    group = SO3()
    x = torch.tensor([[0.3, -1.2, 0.5]], dtype=torch.float64)
    elems, _ = group.lift(x, 40000, torch.rand(1, 40000, 1, generator=RNG(11), dtype=torch.float64)[None])
    r = elems[0, 0].unflatten(-1, (3, 3))
    base = r[0]
    relative = base.T @ r  # rotations about e_x
    theta = torch.atan2(relative[:, 2, 1], relative[:, 1, 1]) % (2 * math.pi)
    mass = torch.histc(theta, bins=8, min=0, max=2 * math.pi) / len(theta)
    assert (mass - 0.125).abs().max() < 0.01
    assert torch.allclose(relative[:, 0, 0], torch.ones(40000, dtype=torch.float64), atol=1e-12)


def test_make_group_by_name():
    assert isinstance(make_group("se3", 3), SE3) and isinstance(make_group("T3", 3), Translations)
    assert isinstance(make_group("RxSO2", 2, alpha=0.3), RxSO2) and make_group("RxSO2", 2, alpha=0.3).alpha == 0.3
    assert make_group("Trivial", 3).kernel_dim == 6
    with pytest.raises(UserError, match="choose one of Trivial, T2, SO2, RxSO2, SE2"):
        make_group("SE3", 2)
