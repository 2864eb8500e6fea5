"""Latent symmetry detection: flows, transformed pairs, the pixel field action, metrics, smoke runs."""

from __future__ import annotations

import math

import pytest
import torch

from lconv_cli.data.symmetry_pairs import (
    make_symmetry_pairs,
    partner_indices,
    pixel_points,
    sample_parameters,
    transform_images,
)
from lconv_cli.errors import UserError
from lconv_cli.reporting.latent_figures import latent_figure
from lconv_cli.lie import coefficient_cos, field_basis_2d, field_coefficients, field_vector
from lconv_cli.lie.flows import fit_field_coefficients, flow_points, rk4_flow, sct_direction
from lconv_cli.models.latent_flow import LatentFlowModel, PixelFieldAction
from lconv_cli.lie.parameter_metrics import r2_score, wasserstein_1d
from tests.helpers import SMOKE, lconv, read_json
from tests.fake_datasets import fake_cifar_dataset, fake_idx_dataset

FAMILIES = {
    "tx": {"translation_x": 1.0},
    "ty": {"translation_y": 1.0},
    "rotation": {"rotation": 1.0},
    "scale": {"scaling": 1.0},
    "shear": {"shear": 1.0},
    "sct_x": {"sct_x": 1.0},
    "sct_y": {"sct_y": 1.0},
    "rotation_scale": {"rotation": 1.0, "scaling": 1.0},
    "rotation_tx": {"rotation": 1.0, "translation_x": 1.0},
    "sct_x_tx": {"sct_x": 1.0, "translation_x": 1.0},  # no closed form: the RK4 path
}


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


def smooth_image(n: int = 28, width: float = 0.25) -> torch.Tensor:
    """(n, n) float64 off-centre elongated Gaussian blob, values in (0, 1], zero to 1e-6 at the border."""
    p = pixel_points(n)
    x, y = p[:, 0] - 0.1, p[:, 1] + 0.05
    return torch.exp(-(x**2 / (2 * width**2) + y**2 / (2 * (0.7 * width) ** 2) + 1.5 * x * y)).reshape(n, n)


@pytest.fixture(scope="module")
def points() -> torch.Tensor:
    return (torch.rand(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1) * 0.9


# --- flows (float64) ---------------------------------------------------------------------------

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
    assert torch.allclose(sct_direction(field_vector({"sct_x": 2.0, "sct_y": -1.0})), torch.tensor([2.0, -1.0], dtype=torch.float64))
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
    assert torch.allclose(field_coefficients("sct_x", "quadratic"), torch.tensor([0, 0, 0, 1, 0, -1, 0, 0, 0, 0, 2, 0], dtype=torch.float64) / root6)
    assert torch.allclose(field_coefficients("sct_y", "quadratic"), torch.tensor([0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 1], dtype=torch.float64) / root6)
    with pytest.raises(ValueError, match="not in the affine basis"):
        field_coefficients("sct_x", "affine")


# --- transformed images --------------------------------------------------------------------------

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
    moved = transform_images(image[None].repeat(2, 1, 1), coeffs, torch.tensor([eps, -eps], dtype=torch.float64), interpolation)
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
    model = LatentFlowModel(8, "quadratic", encoder_widths=[16], t_widths=[16], patch=3, channels=2, generator=torch.Generator().manual_seed(0))
    x0, xt = torch.randn(4, 64), torch.randn(4, 64)
    pred, t = model(x0, xt)
    assert pred.shape == (4, 64) and t.shape == (4,)
    assert model.latent_generator().shape == (9, 9)
    assert abs(float(model.unit_alpha().detach().norm()) - 1) < 1e-6
    assert set(model.losses(x0, xt)) == {"pixel", "recon", "latent", "alpha", "l1"}
    # expm(0·G) is the identity on the latent
    z = model.encode(x0)
    assert torch.allclose(model.flow_latent(z, torch.zeros(4)), z)


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
    images = torch.stack([smooth_image(16).float(), smooth_image(16, 0.3).float(), smooth_image(16, 0.2).float(), smooth_image(16, 0.35).float()])
    labels = torch.tensor([0, 0, 1, 1])
    coeffs = field_vector({"rotation": 1.0})
    same, mean, std = make_symmetry_pairs(images, labels, coeffs, "uniform", -0.5, 0.5, "same_image", torch.Generator().manual_seed(0))
    assert torch.equal(same.source, torch.arange(4))
    expected = transform_images(images, coeffs, same.t.double())
    assert torch.allclose(same.xt, ((expected - mean) / std).reshape(4, -1), atol=1e-5)
    other, _, _ = make_symmetry_pairs(images, labels, coeffs, "uniform", -0.5, 0.5, "different_image", torch.Generator().manual_seed(0))
    assert torch.equal(other.source, torch.tensor([1, 0, 3, 2]))


# --- metrics -------------------------------------------------------------------------------------

def test_metrics_are_sign_invariant():
    a = torch.randn(12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    b = torch.randn(12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert coefficient_cos(-a, b) == pytest.approx(coefficient_cos(a, b))
    assert coefficient_cos(a, 3 * a) == pytest.approx(1.0)
    t = torch.linspace(-1, 1, 101, dtype=torch.float64)
    noisy = t + 0.1 * torch.sin(7 * t)
    assert r2_score(-2 * noisy + 5, t) == pytest.approx(r2_score(noisy, t))
    assert r2_score(-t, t) == pytest.approx(1.0)
    assert wasserstein_1d(t + 0.25, t) == pytest.approx(0.25)
    assert wasserstein_1d(t.flip(0), t) == pytest.approx(0.0)


# --- runs ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    fake_idx_dataset(root, "MNIST", num_train=200, num_test=80, seed=0)
    fake_idx_dataset(root, "FashionMNIST", num_train=200, num_test=80, seed=1)
    fake_cifar_dataset(root, "cifar10", per_batch=20, num_test=40)
    return root


def test_smoke_runs_every_family_setting(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = lconv("run", "-m", "experiment=latent_symmetry", *SMOKE, "transform=rotation,sct_x", "data.task=same_image,different_image",
                 "data.distribution=bimodal", "data.verify=false", f"hydra.sweep.dir={sweep}", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert proc.returncode == 0, proc.stderr
    rows = read_json(sweep / "summary.json")
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert [r["metrics"]["num_fields"] for r in rows] == [6, 6, 12, 12]  # auto basis: affine for rotation, quadratic for SCT
    run_dir = sweep / "0"
    for name in ("coefficients.csv", "predictions.pt", "figures/latent_flow.png", "figures/t_histogram.png", "figures/reconstructions.png"):
        assert (run_dir / name).is_file(), name
    for key in ("generator_cos", "t_r2", "t_w1", "recon_mse", "scaling_component"):
        assert math.isfinite(rows[0]["metrics"][key]), key
    paths = latent_figure({"rotation": sweep / "0", "sct_x": sweep / "2"}, tmp_path / "fig" / "latent_flows")
    assert all(p.is_file() for p in paths)
    summary = read_json(tmp_path / "fig" / "latent_flows.metrics.json")
    assert list(summary) == ["rotation", "sct_x"] and summary["sct_x"]["generator_cos"] == rows[2]["metrics"]["generator_cos"]
    with pytest.raises(UserError, match="is it a finished latent_symmetry run directory"):
        latent_figure({"x": tmp_path}, tmp_path / "fig" / "bad")


def test_same_seed_same_numbers_and_other_datasets(fake_root, tmp_path):
    args = ["run", "experiment=latent_symmetry", *SMOKE, "data.verify=false"]
    env = {"LCONV_DATA": str(fake_root)}
    first = lconv(*args, f"paths.output_dir={tmp_path / 'a'}", cwd=tmp_path, env=env)
    second = lconv(*args, f"paths.output_dir={tmp_path / 'b'}", cwd=tmp_path, env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a, b = (read_json(tmp_path / d / "metrics.json")["metrics"] for d in ("a", "b"))
    for key in ("generator_cos", "t_r2", "recon_mse", "final_train_loss"):
        assert a[key] == b[key], key
    sweep = tmp_path / "datasets"
    proc = lconv("run", "-m", "experiment=latent_symmetry", *SMOKE, "dataset=fashion_mnist,cifar10", "transform=scale", "data.verify=false",
                 f"hydra.sweep.dir={sweep}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in read_json(sweep / "summary.json")] == ["ok", "ok"]


def test_sct_in_the_affine_basis_is_one_clear_line(fake_root, tmp_path):
    proc = lconv("run", "experiment=latent_symmetry", *SMOKE, "transform=sct_x", "model.basis=affine", "data.verify=false",
                 f"paths.output_dir={tmp_path / 'run'}", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert proc.returncode == 2
    assert "do not fit model.basis=affine" in proc.stderr


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
