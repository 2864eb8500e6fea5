"""LieConv layers and LieResNets: sampling, neighbourhoods, masks, equivariance, parameter counts."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import lconv_cli.models.point_sampling as sampling
from lconv_cli.groups.point_groups import Translations, make_group
from lconv_cli.models import num_params
from lconv_cli.models.lieconv import ImageLieResNet, LieResNet, MaskBatchNorm, MoleculeLieResNet, image_grid
from lconv_cli.models.point_sampling import ball_neighbourhoods, farthest_point_indices, uniform_noise

RNG = lambda seed=0: torch.Generator().manual_seed(seed)  # noqa: E731
GROUPS = [
    ("Trivial", 2, 1),
    ("T2", 2, 1),
    ("SO2", 2, 1),
    ("RxSO2", 2, 1),
    ("SE2", 2, 2),
    ("Trivial", 3, 1),
    ("T3", 3, 1),
    ("SO3", 3, 4),
    ("SE3", 3, 4),
]


def small_net(name: str, dim: int, liftsamples: int, dtype=torch.float64) -> LieResNet:
    torch.manual_seed(0)
    net = LieResNet(
        4, 3, make_group(name, dim), [16, 16, 32], fills=[0.3, 0.5], nbhd=8, ds_frac=0.7, liftsamples=liftsamples
    ).to(dtype)
    x, v, mask = point_cloud(dim, dtype)
    for _ in range(3):  # move BN statistics and radii away from their initial values
        net(x, v, mask).sum().backward()
    return net.eval()


def point_cloud(dim: int, dtype=torch.float64, batch: int = 3, n: int = 20):
    g = RNG(1)
    x = torch.randn(batch, n, dim, generator=g, dtype=dtype) * 1.5
    v = torch.randn(batch, n, 4, generator=g, dtype=dtype)
    mask = torch.ones(batch, n, dtype=torch.bool)
    mask[1, 14:] = False
    return x, v, mask


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


def test_official_parameter_counts():
    counts = {
        name: num_params(ImageLieResNet(make_group(name, 2))) for name in ("T2", "RxSO2", "SO2", "SE2", "Trivial")
    }
    assert counts == {"T2": 588_645, "RxSO2": 588_645, "SO2": 588_837, "SE2": 588_837, "Trivial": 589_029}
    assert num_params(MoleculeLieResNet(make_group("T3", 3))) == 21_315_553  # ≈ 21.3 M


def test_image_grid_and_official_point_schedule():
    coords, keep = image_grid(28, 28)
    assert coords.shape == (648, 2) and keep.sum() == 648
    model = ImageLieResNet(make_group("SE2", 2, 0.05), liftsamples=2)
    assert model.point_counts == [1296, 883, 602, 410, 279, 190, 129]
    assert [b.conv.linear.in_features // 16 for b in model.blocks] == [32, 38, 46, 56, 68, 83]


def test_farthest_points_are_spread_and_deterministic_given_a_seed():
    group = Translations(2)
    x = torch.rand(2, 400, 2, generator=RNG(2), dtype=torch.float64)
    mask = torch.ones(2, 400, dtype=torch.bool)
    mask[1, 300:] = False
    counts = torch.tensor([40, 30])
    index, chosen = farthest_point_indices(group, x, x[..., :0], mask, counts, seed=5)
    again, _ = farthest_point_indices(group, x, x[..., :0], mask, counts, seed=5)
    assert torch.equal(index, again) and chosen.sum(-1).tolist() == [40, 30]
    assert (index[1, :30] < 300).all()  # never a padded point
    picked = x[0, index[0]]
    spread = torch.cdist(picked, picked).add(torch.eye(40, dtype=torch.float64) * 9).min()
    random = x[0, torch.randperm(400, generator=RNG(3))[:40]]
    assert spread > 2 * torch.cdist(random, random).add(torch.eye(40, dtype=torch.float64) * 9).min()
    assert len(set(index[0].tolist())) == 40


def test_ball_neighbourhoods_respect_radius_masks_and_chunking(monkeypatch):
    group = Translations(2)
    x = torch.rand(2, 50, 2, generator=RNG(4), dtype=torch.float64) * 10
    mask = torch.ones(2, 50, dtype=torch.bool)
    mask[0, 40:] = False
    points = (x, x[..., :0], mask)
    nbhd = ball_neighbourhoods(group, points, points, radius=0.5, k=10, seed=1)
    d = 0.2 * torch.cdist(x, x)  # T(d) distance: α‖Δx‖
    chosen_d = d.gather(-1, nbhd.index)
    assert (chosen_d[nbhd.mask] < 0.5).all()
    assert not nbhd.mask[0, :, :][..., None].logical_and(nbhd.index[0][..., None] >= 40).any()
    in_ball = ((d < 0.5) & mask[:, None] & mask[:, :, None]).sum(-1)
    assert torch.equal(nbhd.mask.sum(-1), in_ball.clamp(max=10))  # every query gets min(k, #in ball)
    monkeypatch.setattr(sampling, "CHUNK_ELEMENTS", 64)  # many small chunks: the same answer
    chunked = ball_neighbourhoods(group, points, points, radius=0.5, k=10, seed=1)
    assert torch.equal(chunked.index, nbhd.index) and torch.equal(chunked.mask, nbhd.mask)
    assert chunked.fill == pytest.approx(float(in_ball.sum()) / (40 * 40 + 50 * 50))


def test_uniform_noise_ignores_batch_and_padding():
    a = uniform_noise((3, 5, 7), seed=4)
    b = uniform_noise((1, 8, 9), seed=4)
    assert torch.equal(a[0], a[2]) and torch.equal(a[0], b[0, :5, :7])
    assert not torch.equal(a, uniform_noise((3, 5, 7), seed=5))
    assert float(a.min()) >= 0 and float(a.max()) < 1


def test_mask_batch_norm_uses_valid_entries_only():
    bn = MaskBatchNorm(3)
    x = torch.randn(4, 6, 3, generator=RNG(5))
    mask = torch.rand(4, 6, generator=RNG(6)) > 0.4
    y = bn(x, mask)
    valid = x[mask]
    expected = (valid - valid.mean(0)) / (valid.var(0, unbiased=False) + bn.eps).sqrt()
    assert torch.allclose(y[mask], expected, atol=1e-5)
    assert torch.equal(y[~mask], x[~mask])  # padding passes through untouched
    assert torch.allclose(bn.running_mean, 0.1 * valid.mean(0), atol=1e-6)


@pytest.mark.parametrize("name,dim,liftsamples", GROUPS, ids=lambda p: str(p))
def test_lieresnet_is_equivariant_on_lifted_points(name, dim, liftsamples):
    """Left-multiplying every lifted element by g leaves the output unchanged (float64)."""
    net = small_net(name, dim, liftsamples)
    group = net.group
    x, v, mask = point_cloud(dim)
    lifted = net.lift(x, v, mask)
    g = group.random_element(RNG(7))
    out = net.forward_lifted(lifted)
    moved = net.forward_lifted(replace(lifted, elems=group.act_on_elements(g, lifted.elems)))
    assert relative(moved, out) < 1e-10


@pytest.mark.parametrize("name,dim", [("T2", 2), ("SO2", 2), ("RxSO2", 2), ("T3", 3)])
def test_lieresnet_is_equivariant_on_inputs_when_the_lift_is_deterministic(name, dim):
    net = small_net(name, dim, 1)
    x, v, mask = point_cloud(dim)
    g = net.group.random_element(RNG(8))
    assert relative(net(net.group.act_on_points(g, x), v, mask), net(x, v, mask)) < 1e-10


def test_equivariance_checks_can_fail():
    """A T(2) model is not rotation invariant, and a Trivial model not translation invariant."""
    x, v, mask = point_cloud(2)
    rotate = make_group("SO2", 2).random_element(RNG(9))
    net = small_net("T2", 2, 1)
    assert relative(net(make_group("SO2", 2).act_on_points(rotate, x), v, mask), net(x, v, mask)) > 1e-4
    trivial = small_net("Trivial", 2, 1)
    shift = make_group("T2", 2).random_element(RNG(10))
    assert relative(trivial(make_group("T2", 2).act_on_points(shift, x), v, mask), trivial(x, v, mask)) > 1e-4


@pytest.mark.parametrize("name,dim,liftsamples", [("T2", 2, 1), ("SE2", 2, 2), ("SO3", 3, 4), ("SE3", 3, 4)])
def test_padded_and_unpadded_inputs_give_the_same_outputs(name, dim, liftsamples):
    net = small_net(name, dim, liftsamples)
    x, v, mask = point_cloud(dim)
    padded = net(x, v, mask)[1]
    alone = net(x[1:2, :14], v[1:2, :14], mask[1:2, :14])[0]
    assert relative(alone, padded) < 1e-10
    assert torch.equal(net(x, v, mask), net(x, v, mask))  # eval is deterministic


def test_training_adapts_the_radius_towards_the_fill():
    net = LieResNet(4, 3, make_group("T2", 2), [16, 16], fills=[0.2], nbhd=8)
    x, v, mask = point_cloud(2, torch.float32, n=40)
    for _ in range(60):
        net(x, v, mask)
    conv = net.blocks[0].conv
    lifted = net.lift(x, v, mask)
    points = (lifted.elems, lifted.orbits, lifted.mask)
    assert ball_neighbourhoods(conv.group, points, points, float(conv.radius), 8).fill == pytest.approx(0.2, abs=0.05)


def test_image_model_runs_forward_and_backward_in_float32():
    model = ImageLieResNet(make_group("SE2", 2, 0.05), k=16, num_layers=2, liftsamples=2)
    images = torch.randn(3, 1, 28, 28, generator=RNG(11))
    logits = model(images)
    assert logits.shape == (3, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    assert torch.equal(model(images), model(images))
    per_image = ImageLieResNet(
        make_group("SE2", 2, 0.05), k=16, num_layers=2, liftsamples=2, shared_neighbourhoods=False
    )
    per_image.load_state_dict(model.state_dict())
    assert torch.allclose(per_image.eval()(images), model(images), atol=1e-5)


def test_recomputed_kernel_updates_batch_norm_statistics_once():
    from lconv_cli.models.lieconv import KernelMLP

    torch.manual_seed(0)
    kernel = KernelMLP(3, 16)
    reference = KernelMLP(3, 16)
    reference.load_state_dict(kernel.state_dict())
    x = torch.randn(2, 5, 7, 3, generator=RNG(12))
    mask = torch.rand(2, 5, 7, generator=RNG(13)) > 0.3
    out = kernel(x, mask)  # checkpointed: recomputed during backward
    out.sum().backward()
    with torch.no_grad():
        expected = reference(x, mask)  # plain forward, one update
    assert torch.allclose(out, expected, atol=1e-6)
    for a, b in zip(kernel.norms, reference.norms):
        assert torch.allclose(a.running_mean, b.running_mean) and torch.allclose(a.running_var, b.running_var)
    assert all(p.grad is not None for p in kernel.parameters())


def test_knn_neighbourhoods_are_the_nearest_valid_points():
    group = Translations(2)
    x = torch.rand(2, 30, 2, generator=RNG(14), dtype=torch.float64)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 25:] = False
    points = (x, x[..., :0], mask)
    nbhd = ball_neighbourhoods(group, points, points, radius=0.0, k=6, knn=True)
    d = torch.cdist(x, x).masked_fill(~mask[:, None, :], float("inf"))
    expected = d.topk(6, dim=-1, largest=False).indices
    got, want = nbhd.index.sort(-1).values, expected.sort(-1).values
    assert torch.equal(got[0], want[0]) and torch.equal(got[1, :25], want[1, :25])  # valid queries
    assert nbhd.mask[1, :25].all() and not nbhd.mask[1, 25:].any()  # padded queries get no neighbours


@pytest.mark.parametrize(
    ("c_in", "nbhd", "path"),
    [(256, 50, "per-set dense products"), (4, 5, "gathered neighbours"), (4, 50, "padded dense products")],
)
def test_recomputed_products_give_the_stored_forward_gradients(c_in, nbhd, path):
    """ProductsLinear (products recomputed in backward, the linear map not re-run) against plain autograd."""
    from lconv_cli.models.lieconv import LieConv, LiftedPoints

    group = make_group("T3", 3)
    x, _, mask = point_cloud(3, batch=3, n=12)
    mask[2, 7:] = False
    elems, orbits = group.lift(x, 1, torch.zeros(3, 12, 1, group.lift_noise_dim, dtype=x.dtype))
    values = torch.randn(int(mask.sum()), c_in, generator=RNG(14), dtype=torch.float64)
    grads = []
    for recompute in (True, False):
        torch.manual_seed(0)
        conv = LieConv(c_in, 8, group, nbhd=nbhd, fill=0.6).double()
        conv.recompute = recompute
        v = values.clone().requires_grad_()
        torch.manual_seed(1)
        out = conv(LiftedPoints(elems.flatten(1, 2), orbits.flatten(1, 2), mask, v, 3)).values
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        grads.append([v.grad, *(p.grad for p in conv.parameters())])
    for stored, recomputed in zip(*grads):
        assert torch.allclose(recomputed, stored, rtol=1e-10, atol=1e-12), path


def test_per_set_and_padded_dense_products_agree(monkeypatch):
    """The per-set loop (wide float32 layers) and the one padded batched product (narrow layers, bf16
    autocast) give the same outputs and gradients on sets with padding."""
    import lconv_cli.models.lieconv as lieconv
    from lconv_cli.models.lieconv import products

    group = make_group("T3", 3)
    x, _, mask = point_cloud(3, batch=3, n=12)
    mask[2, 7:] = False
    elems, orbits = group.lift(x, 1, torch.zeros(3, 12, 1, group.lift_noise_dim, dtype=x.dtype))
    values = torch.randn(int(mask.sum()), 256, generator=RNG(15), dtype=torch.float64)
    runs = []
    for min_channels in (256, 10**9):
        monkeypatch.setattr(products, "PER_SET_MIN_CHANNELS", min_channels)
        torch.manual_seed(0)
        conv = lieconv.LieConv(256, 8, group, nbhd=50, fill=0.6).double()
        v = values.clone().requires_grad_()
        torch.manual_seed(1)
        out = conv(lieconv.LiftedPoints(elems.flatten(1, 2), orbits.flatten(1, 2), mask, v, 3)).values
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        runs.append([out, v.grad, *(p.grad for p in conv.parameters())])
    for per_set, padded in zip(*runs):
        assert torch.allclose(per_set, padded, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "dim", "liftsamples", "nbhd"), [("T3", 3, 1, 8), ("SE3", 3, 4, 8), ("SO2", 2, 1, 8), ("T3", 3, 1, 50)]
)
def test_the_shared_pair_table_changes_nothing(monkeypatch, name, dim, liftsamples, nbhd):
    """A network without subsampling computes every pair once per forward (PairTable); outputs, gradients
    (also with respect to the coordinates, which the Hamiltonian models differentiate) and BN statistics
    are those of computing the pairs in every layer."""
    from lconv_cli.models.lieconv import resnet

    x, v, mask = point_cloud(dim)
    runs = []
    for table_max in (resnet.PAIR_TABLE_MAX, 0):
        monkeypatch.setattr(resnet, "PAIR_TABLE_MAX", table_max)
        torch.manual_seed(0)
        net = LieResNet(4, 3, make_group(name, dim), [16, 16, 32], fills=[0.3, 0.5], nbhd=nbhd, liftsamples=liftsamples)
        net = net.double()
        coords = x.clone().requires_grad_()
        torch.manual_seed(1)
        out = net(coords, v, mask)
        out.sum().backward()
        runs.append((out, coords.grad, [p.grad for p in net.parameters()], [b.clone() for b in net.buffers()]))
    (out, coords_grad, grads, buffers), (out0, coords_grad0, grads0, buffers0) = runs
    assert torch.equal(out, out0) and torch.allclose(coords_grad, coords_grad0, rtol=1e-12, atol=1e-14)
    assert all(torch.allclose(a, b, rtol=1e-12, atol=1e-14) for a, b in zip(grads, grads0))
    assert all(torch.equal(a, b) for a, b in zip(buffers, buffers0))


@pytest.mark.parametrize(("name", "liftsamples"), [("T2", 1), ("SE2", 2)])
def test_per_image_draws_run_the_kernel_once_per_distinct_pair_without_changing_anything(name, liftsamples):
    """Per-image neighbour draws on the shared grid: the kernel MLP on distinct (query, point) pairs with
    count-weighted batch statistics gives the outputs, gradients and BN statistics of running it on every drawn pair."""
    images = torch.randn(4, 1, 28, 28, generator=RNG(15), dtype=torch.float64)
    runs = []
    for distinct in (True, False):
        torch.manual_seed(0)
        model = ImageLieResNet(
            make_group(name, 2, 0.05), k=16, num_layers=2, liftsamples=liftsamples, shared_neighbourhoods=False
        ).double()
        for block in model.blocks:
            block.conv.distinct_pairs = distinct
            block.conv.radius.fill_(5.0)  # balls of more than nbhd points: the draws differ between images
        torch.manual_seed(1)
        out = model(images)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        model.eval()
        runs.append((out, model(images), [p.grad for p in model.parameters()], [b.clone() for b in model.buffers()]))
    (out, evaluated, grads, buffers), (out0, evaluated0, grads0, buffers0) = runs
    close = lambda a, b: torch.allclose(a, b, rtol=1e-9, atol=1e-12)  # noqa: E731
    assert close(out, out0) and close(evaluated, evaluated0)
    assert all(close(a, b) for a, b in zip(grads, grads0))
    assert all(close(a.double(), b.double()) for a, b in zip(buffers, buffers0))
