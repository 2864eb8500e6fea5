"""Spring dynamics: the physics functions in float64 against closed forms, the dataset, the
Hamiltonian models' symmetries and double backprop, and lieconv_springs smoke runs."""

from __future__ import annotations

import math

import pytest
import torch

from lconv_cli.data.springs import SpringSettings, cache_path, draw_systems, generate_split, load_split
from lconv_cli.groups.point_groups import make_group
from lconv_cli.models.dynamics import FCDynamics, GraphDynamics, HamiltonianFC, HamiltonianGraph, HamiltonianLieResNet
from lconv_cli.physics.hamiltonian import (
    angular_momentum,
    integrate,
    linear_momentum,
    momentum_drift,
    momentum_rates,
    relative_error,
    spring_hamiltonian,
    spring_potential,
    spring_vector_field,
    symplectic_gradient,
)
from tests.helpers import SMOKE, lconv, read_json


def random_systems(count: int, n: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    masses = 0.1 + 3 * torch.rand(count, n, generator=g, dtype=torch.float64)
    springs = 5 * torch.rand(count, n, generator=g, dtype=torch.float64)
    z = torch.randn(count, 2, n, 2, generator=g, dtype=torch.float64) * torch.tensor([0.4, 0.6], dtype=torch.float64)[:, None, None]
    return z, masses, springs


def test_spring_potential_is_the_double_sum():
    z, _, springs = random_systems(3)
    q = z[:, 0]
    pairs = (springs[:, :, None] * springs[:, None, :] * (q[:, :, None] - q[:, None, :]).pow(2).sum(-1)).sum((1, 2))
    torch.testing.assert_close(spring_potential(q, springs), 0.5 * pairs, rtol=1e-12, atol=1e-12)


def test_symplectic_gradient_of_the_spring_hamiltonian_matches_the_closed_form():
    z, masses, springs = random_systems(4)
    numeric = symplectic_gradient(lambda s: spring_hamiltonian(s, masses, springs), z)
    torch.testing.assert_close(numeric, spring_vector_field(z, masses, springs), rtol=1e-12, atol=1e-12)
    # a harmonic oscillator H = (p² + q²)/2: dq/dt = p, dp/dt = −q
    state = torch.tensor([[[[0.3, -1.2]], [[0.7, 0.4]]]], dtype=torch.float64)  # (1, 2, 1, 2)
    field = symplectic_gradient(lambda s: 0.5 * s.pow(2).sum((1, 2, 3)), state)
    torch.testing.assert_close(field, torch.stack([state[:, 1], -state[:, 0]], 1), rtol=0, atol=1e-15)


def test_integrator_conserves_energy_and_both_momenta_of_the_true_system():
    z, masses, springs = random_systems(4, seed=1)
    z[:, 1] -= z[:, 1].mean(1, keepdim=True)
    times = torch.linspace(0, 1, 1001, dtype=torch.float64)  # dt 1e-3
    trajectory = integrate(lambda s: spring_vector_field(s, masses, springs), z, times)
    energy = spring_hamiltonian(trajectory, masses[:, None], springs[:, None])
    assert float(relative_error(energy, energy[:, :1].expand_as(energy), 0).max()) < 1e-9
    linear, angular = momentum_drift(trajectory)
    assert float(linear.max()) < 1e-13 and float(angular.max()) < 1e-9
    # RK4 is 4th order: the harmonic oscillator after one period at 100 steps is back to within (2π/100)^4 · O(1)
    state = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]], dtype=torch.float64)
    end = integrate(lambda s: torch.stack([s[:, 1], -s[:, 0]], 1), state, torch.linspace(0, 2 * math.pi, 101, dtype=torch.float64))[:, -1]
    assert float((end - state).abs().max()) < 1e-5


def test_momentum_drift_and_relative_error_closed_forms():
    trajectory = torch.zeros(1, 3, 2, 2, 2, dtype=torch.float64)
    trajectory[0, :, 0, 0] = torch.tensor([1.0, 0.0])  # body 0 at (1, 0)
    trajectory[0, :, 1, 0] = torch.tensor([0.0, 2.0])  # p_0 = (0, 2): L = 2
    trajectory[0, 2, 1, 1] = torch.tensor([0.5, 0.0])  # step 2: body 1 gains p = (0.5, 0) at q = 0
    linear, angular = momentum_drift(trajectory)
    assert float(linear) == pytest.approx(0.5 / 2.0) and float(angular) == 0.0
    assert float(angular_momentum(trajectory[0, 0])) == 2.0
    assert linear_momentum(trajectory[0, 2]).tolist() == [0.5, 2.0]
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 0.0]])
    assert float(relative_error(a, b)) == 1.0 and float(relative_error(a, a)) == 0.0


def test_momentum_rates_vanish_for_the_true_field_and_not_for_a_push():
    z, masses, springs = random_systems(5, seed=5)
    linear, angular = momentum_rates(z, spring_vector_field(z, masses, springs))
    assert float(linear.max()) < 1e-14 and float(angular.max()) < 1e-14
    field = torch.zeros_like(z)
    field[:, 1, 0] = torch.tensor([1.0, 0.0], dtype=torch.float64)  # one body pushed along x, the rest at rest
    linear, angular = momentum_rates(z, field)
    assert torch.allclose(linear, torch.ones(5, dtype=torch.float64))
    assert torch.allclose(angular, (z[:, 0, 0, 1] != 0).to(torch.float64))  # torque −y: all of the torque scale


def test_systems_are_seeded_nested_and_momentum_free():
    settings = SpringSettings(num_times=50)
    first = draw_systems(settings, "train", 6)
    again = draw_systems(settings, "train", 6)
    longer = draw_systems(settings, "train", 10)
    for a, b, c in zip(first, again, longer):
        assert torch.equal(a, b) and torch.equal(a, c[:6])
    other_seed = draw_systems(SpringSettings(num_times=50, seed=1), "train", 6)
    assert not torch.equal(first[0], other_seed[0])
    assert not torch.equal(first[0], draw_systems(settings, "test", 6)[0])
    masses, springs, z0, starts = first
    assert float(z0[:, 1].sum(1).abs().max()) < 1e-15  # each system's own total momentum is zero
    assert 0.1 <= float(masses.min()) and float(masses.max()) <= 3.1 and 0 <= float(springs.min()) and float(springs.max()) <= 5
    assert int(starts.max()) <= 50 - 5 - 1


def test_chunks_are_pieces_of_the_integrated_trajectories(tmp_path):
    settings = SpringSettings(num_times=60, long_steps=20)
    split = generate_split(settings, "test", 3)
    masses, springs, z0, starts = draw_systems(settings, "test", 3)
    full = integrate(lambda s: spring_vector_field(s, masses, springs), z0, settings.times(59))
    for i in range(3):
        torch.testing.assert_close(split.chunks[i], full[i, int(starts[i]) : int(starts[i]) + 6], rtol=0, atol=0)
    torch.testing.assert_close(split.long, full[:, :21], rtol=0, atol=0)
    assert generate_split(settings, "train", 2).long is None
    cached = load_split(tmp_path, settings, "test", 3)
    assert cache_path(tmp_path, settings, "test", 3).is_file()
    assert torch.equal(load_split(tmp_path, settings, "test", 3).chunks, cached.chunks)
    assert torch.equal(cached.chunks, split.chunks)


def _random_rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


@pytest.mark.parametrize("group", ["T2", "SO2"])
def test_hlieresnet_potential_is_invariant_and_conserves_its_momentum(group):
    torch.manual_seed(0)
    model = HamiltonianLieResNet(make_group(group, 2), k=32, num_layers=2).double().eval()
    z, masses, springs = random_systems(5, seed=2)
    params = torch.stack([masses, springs], -1)
    g = torch.Generator().manual_seed(3)
    if group == "T2":
        moved = z.clone()
        moved[:, 0] += torch.randn(5, 1, 2, generator=g, dtype=torch.float64)
    else:
        moved = z @ _random_rotation(2 * math.pi * float(torch.rand((), generator=g, dtype=torch.float64))).T
    with torch.no_grad():
        h, h_moved = model.hamiltonian(z, params), model.hamiltonian(moved, params)
    potential = h - spring_hamiltonian(z, masses, torch.zeros_like(springs))  # the learned V alone
    assert float((h_moved - h).abs().max() / potential.abs().max()) <= 1e-5
    field = model(z, params).detach()
    if group == "T2":  # Σ dp_i/dt = −Σ ∂V/∂q_i = 0
        assert float(field[:, 1].sum(1).abs().max() / field[:, 1].abs().max()) < 1e-12
    else:  # dL/dt = Σ q̇ × p + q × ṗ = 0
        q, p, dq, dp = z[:, 0], z[:, 1], field[:, 0], field[:, 1]
        torque = (dq[..., 0] * p[..., 1] - dq[..., 1] * p[..., 0] + q[..., 0] * dp[..., 1] - q[..., 1] * dp[..., 0]).sum(1)
        assert float(torque.abs().max() / (q.norm(dim=-1) * dp.norm(dim=-1)).sum(1).max()) < 1e-12


def test_the_trivial_group_is_not_translation_invariant():
    torch.manual_seed(0)
    model = HamiltonianLieResNet(make_group("Trivial", 2), k=32, num_layers=2).double().eval()
    z, masses, springs = random_systems(3)
    params = torch.stack([masses, springs], -1)
    moved = z.clone()
    moved[:, 0] += 0.5
    with torch.no_grad():
        assert float((model.hamiltonian(moved, params) - model.hamiltonian(z, params)).abs().max()) > 1e-8  # rounding would be ~1e-16
    centred = HamiltonianLieResNet(make_group("Trivial", 2), k=32, num_layers=2, center=True).double().eval()
    with torch.no_grad():
        torch.testing.assert_close(centred.hamiltonian(moved, params), centred.hamiltonian(z, params), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make_model", [
    lambda: HamiltonianLieResNet(make_group("T2", 2), k=16, num_layers=1),
    lambda: HamiltonianFC(6, hidden=[16]),
    lambda: HamiltonianGraph(hidden=8, num_layers=2),
    lambda: FCDynamics(6, hidden=[16]),
    lambda: GraphDynamics(hidden=8, num_layers=2),
], ids=["hlieresnet", "hfc", "hogn", "fc", "ogn"])
def test_rollout_loss_gradient_matches_finite_differences(make_model):
    """The parameter gradient of a rollout loss (double backprop for Hamiltonian models) against a central difference."""
    torch.manual_seed(0)
    model = make_model().double()
    z, masses, springs = random_systems(3, seed=4)
    params = torch.stack([masses, springs], -1)
    times = torch.linspace(0, 0.05, 6, dtype=torch.float64)
    target = integrate(lambda s: spring_vector_field(s, masses, springs), z, times)

    def loss() -> torch.Tensor:
        return (integrate(lambda s: model(s, params), z, times) - target).pow(2).mean()

    weights = list(model.parameters())
    grads = torch.autograd.grad(loss(), weights, allow_unused=True)  # H's constant offset does not enter the dynamics
    grads = [torch.zeros_like(w) if g is None else g for g, w in zip(grads, weights)]
    direction = [torch.randn_like(w) for w in weights]
    analytic = sum(float((g * d).sum()) for g, d in zip(grads, direction))
    eps = 1e-6
    with torch.no_grad():
        for w, d in zip(weights, direction):
            w += eps * d
        plus = float(loss())
        for w, d in zip(weights, direction):
            w -= 2 * eps * d
        minus = float(loss())
    assert analytic == pytest.approx((plus - minus) / (2 * eps), rel=1e-5, abs=1e-12)
    assert analytic != 0


def test_official_hlieresnet_size():
    assert sum(p.numel() for p in HamiltonianLieResNet(make_group("T2", 2)).parameters()) == 895_297


@pytest.mark.parametrize("sweep", [["group=T2,SO2,Trivial"], ["model=fc,hfc,ogn,hogn"]], ids=["hlieresnet", "baselines"])
def test_springs_smoke_runs(tmp_path, sweep):
    """Every model and group, as one multirun per family (one process start each)."""
    proc = lconv("run", "-m", "experiment=lieconv_springs", *sweep, *SMOKE, f"data.cache_dir={tmp_path / 'data'}",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    jobs = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    assert len(jobs) == len(sweep[0].split("=")[1].split(","))
    for path in jobs:
        run, record = path.parent, read_json(path)
        metrics = record["metrics"]
        assert record["status"] == "ok"
        for key in ("rollout_mse", "long_rollout_rel_err", "energy_rel_err", "linear_momentum_drift", "angular_momentum_drift",
                    "true_linear_momentum_drift", "true_angular_momentum_drift"):
            assert math.isfinite(metrics[key]) and metrics[key] >= 0, key
        assert metrics["true_linear_momentum_drift"] < 1e-13 and metrics["steps"] == 2 and metrics["long_systems"] == 4
        assert metrics["true_linear_momentum_rate"] < 1e-13 and metrics["true_angular_momentum_rate"] < 1e-13
        config = (run / "config.yaml").read_text()
        if "name: hlieresnet" in config and "group: T2" in config:
            assert metrics["linear_momentum_rate"] < 1e-13
        if "name: hlieresnet" in config and "group: SO2" in config:  # rounding, amplified near the origin
            assert metrics["angular_momentum_rate"] < 1e-10
        for name in ("trajectories", "conservation", "learning_curve"):
            assert (run / "figures" / f"{name}.png").is_file(), name
        assert (run / "rollout_curves.json").is_file()


def test_springs_runs_are_reproducible_and_conserve_what_their_group_says(tmp_path):
    records = []
    for name in ("a", "b"):
        proc = lconv("run", "experiment=lieconv_springs", "group=T2", *SMOKE, f"data.cache_dir={tmp_path / 'data'}",
                     f"paths.output_dir={tmp_path / name}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        records.append(read_json(tmp_path / name / "metrics.json")["metrics"])
    drop = ("train_seconds", "train_systems_per_second")
    assert {k: v for k, v in records[0].items() if k not in drop} == {k: v for k, v in records[1].items() if k not in drop}
    assert records[0]["linear_momentum_drift"] < 1e-13  # T(2): linear momentum kept to rounding, in float64


def test_springs_figures_from_runs(tmp_path):
    from lconv_cli.reporting.springs_figures import springs_figures

    proc = lconv("run", "-m", "experiment=lieconv_springs", "group=T2", "model=hlieresnet,fc", "data.num_train=8,16", *SMOKE,
                 f"data.cache_dir={tmp_path / 'data'}", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = {"T2": tmp_path / "sweep" / "0", "FC": tmp_path / "sweep" / "2"}  # model-major job order
    assert "name: fc" in (runs["FC"] / "config.yaml").read_text()
    paths = springs_figures(runs, tmp_path / "fig" / "springs", sizes=[tmp_path / "sweep"])
    names = {p.name for p in paths}
    for stem in ("springs_trajectories", "springs_momentum", "springs_errors", "springs_data_scaling"):
        assert f"{stem}.png" in names and f"{stem}.pdf" in names
    assert "springs.md" in names and "springs.csv" in names
    scaling = read_json(tmp_path / "fig" / "springs_data_scaling.metrics.json")
    assert set(scaling) == {"HLieResNet(T2)", "FC"} and set(scaling["FC"]) == {"8", "16"}


def test_springs_config_errors_are_one_line(tmp_path):
    proc = lconv("run", "experiment=lieconv_springs", "group=SE2", *SMOKE, f"data.cache_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert proc.returncode == 2 and "group must be one of T2, SO2, Trivial; got 'SE2'" in proc.stderr
    proc = lconv("run", "experiment=lieconv_springs", "model=cnn", *SMOKE, f"data.cache_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert proc.returncode == 2 and "model must be one of hlieresnet, fc, hfc, ogn, hogn; got 'cnn'" in proc.stderr
