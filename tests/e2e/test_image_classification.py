"""Image classification: variants, the L-conv layer's formula and symmetry, classifiers, runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import torch

from lconv_cli.experiments.image_classification import build_classifier
from lconv_cli.data.image_variants import make_image_splits, rotate_images, scramble
from lconv_cli.lie import derivative_operators_2d, grid_adjacency_2d
from lconv_cli.models import LConv, num_params
from lconv_cli.train.trainer import BestModel, EpochSampler, Trainer
from tests.helpers import LCONV, lconv, read_json, wait_for
from tests.fake_datasets import fake_cifar_dataset, fake_idx_dataset


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    fake_idx_dataset(root, "MNIST", seed=0)
    fake_idx_dataset(root, "FashionMNIST", seed=1)
    fake_cifar_dataset(root, "cifar10", seed=2)
    fake_cifar_dataset(root, "cifar100", seed=3)
    return root


# --- the L-conv layer ------------------------------------------------------------------------


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
    [("dense", "none", "none"), ("low_rank", "per_term", "relu"), ("low_rank", "shared", "tanh"), ("fixed", "shared", "relu")],
)
def test_lconv_equals_its_formula(kind, bias, activation):
    torch.manual_seed(0)
    d, k = 12, 3
    fixed = torch.randn(k, d, d) if kind == "fixed" else None
    layer = LConv(d, k, 4, 5, parametrisation=kind, rank=2, fixed_generators=fixed, bias=bias, activation=activation).double()
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


def test_grid_adjacency_is_the_normalised_four_neighbour_graph():
    a = grid_adjacency_2d(4, normalised=False)
    assert torch.equal(a, a.T) and a.sum(1).tolist() == [2, 3, 3, 2, 3, 4, 4, 3, 3, 4, 4, 3, 2, 3, 3, 2]
    degrees = a.sum(1)
    torch.testing.assert_close(grid_adjacency_2d(4), a / torch.sqrt(degrees[:, None] * degrees[None, :]))


# --- classifiers and the official parameter counts --------------------------------------------

OFFICIAL_COUNTS = {  # lconv_official_code.md, section D
    ("mnist", "lconv_official"): 351_818,
    ("mnist", "cnn_official"): 216_650,
    ("mnist", "fc_official"): 2_138_834,
    ("mnist", "lconv"): 188_362,
    ("mnist", "cnn"): 185_162,
    ("cifar10", "lconv_official"): 459_914,
    ("cifar10", "cnn_official"): 288_906,
    ("cifar10", "fc_official"): 2_941_010,
    ("cifar100", "lconv_official"): 3_409_124,
    ("cifar100", "cnn_official"): 2_880_996,
    ("cifar100", "fc_official"): 5_890_220,
}


@pytest.mark.parametrize("dataset, model", sorted(OFFICIAL_COUNTS))
def test_presets_have_the_official_parameter_counts(compose_cfg, dataset, model):
    cfg = compose_cfg(["experiment=image_classification", f"dataset={dataset}", f"model={model}"])
    shape = (1, 28, 28) if dataset == "mnist" else (3, 32, 32)
    net = build_classifier(cfg.model, shape, cfg.dataset.num_classes, None)
    assert num_params(net) == OFFICIAL_COUNTS[(dataset, model)]
    assert net(torch.zeros(2, *shape)).shape == (2, cfg.dataset.num_classes)


def test_fc_at_matched_size_and_gcn(compose_cfg):
    cfg = compose_cfg(["experiment=image_classification", "model=fc"])
    assert abs(num_params(build_classifier(cfg.model, (1, 28, 28), 10, None)) - 188_362) < 1_000
    cfg = compose_cfg(["experiment=image_classification", "model=gcn"])
    gcn = build_classifier(cfg.model, (1, 28, 28), 10, None)
    torch.testing.assert_close(gcn.layers[0].generators[0], grid_adjacency_2d(28).float())
    assert num_params(gcn) == 2 * 16 + 2 * 16 + 28 * 28 * 16 * 10 + 10


def test_a_non_classifier_model_is_refused(compose_cfg):
    from lconv_cli.errors import UserError

    cfg = compose_cfg(["experiment=image_classification", "model=generator"])
    with pytest.raises(UserError, match="not an image classifier"):
        build_classifier(cfg.model, (1, 28, 28), 10, None)


# --- data variants ----------------------------------------------------------------------------


def test_rotation_turns_the_picture_and_zero_is_the_identity():
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 6] = 1.0  # right of the centre
    turned = rotate_images(image, torch.tensor([90.0]), "nearest")
    assert (turned[0, 0] > 0.5).nonzero().tolist() == [[2, 4]]  # above it: counter-clockwise as displayed
    x = torch.rand(3, 2, 28, 28)
    torch.testing.assert_close(rotate_images(x, torch.zeros(3)), x, rtol=0, atol=1e-5)


def test_scrambled_permutation_is_shared_across_splits_and_reruns(fake_root):
    plain = make_image_splits("mnist", fake_root, "plain", seed=3, verify=False)
    first = make_image_splits("mnist", fake_root, "scrambled", seed=3, verify=False)
    again = make_image_splits("mnist", fake_root, "scrambled", seed=3, verify=False)
    other = make_image_splits("mnist", fake_root, "scrambled", seed=4, verify=False)
    perm = first.permutation
    assert sorted(perm.tolist()) == list(range(784)) and not torch.equal(perm, torch.arange(784))
    assert torch.equal(perm, again.permutation) and not torch.equal(perm, other.permutation)
    for name in ("train_x", "val_x", "test_x"):
        torch.testing.assert_close(getattr(first, name), scramble(getattr(plain, name), perm))
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert torch.equal(first.train_y, plain.train_y) and torch.equal(first.val_indices, plain.val_indices)


def test_rotation_is_seeded_and_rotate_then_scramble(fake_root):
    a = make_image_splits("fashion_mnist", fake_root, "rotated", seed=0, max_angle_deg=30, verify=False)
    b = make_image_splits("fashion_mnist", fake_root, "rotated", seed=0, max_angle_deg=30, verify=False)
    c = make_image_splits("fashion_mnist", fake_root, "rotated", seed=1, max_angle_deg=30, verify=False)
    assert torch.equal(a.train_angles, b.train_angles) and torch.equal(a.test_x, b.test_x)
    assert not torch.equal(a.train_angles, c.train_angles)
    assert a.train_angles.abs().max() <= 30 and a.train_angles.std() > 5 and a.permutation is None
    assert len(a.train_angles) == len(a.train_x) + len(a.val_x) and len(a.test_angles) == len(a.test_x)
    both = make_image_splits("fashion_mnist", fake_root, "rotated_scrambled", seed=0, max_angle_deg=30, verify=False)
    torch.testing.assert_close(both.test_x, scramble(a.test_x, both.permutation))


def test_validation_split_is_carved_from_train(fake_root):
    splits = make_image_splits("cifar10", fake_root, "plain", seed=0, val_fraction=0.25, verify=False)
    assert len(splits.val_x) == 25 and len(splits.train_x) == 75 and len(splits.test_x) == 20
    assert splits.image_shape == (3, 32, 32)
    torch.testing.assert_close(splits.train_x.mean(dim=(0, 2, 3)), torch.zeros(3), rtol=0, atol=1e-5)


# --- training pieces ------------------------------------------------------------------------


def test_epoch_sampler_visits_every_example_once_per_epoch():
    sampler, rng = EpochSampler(10, 4), torch.Generator().manual_seed(0)
    epoch = [sampler.next_batch(rng) for _ in range(sampler.steps_per_epoch)]
    assert [len(b) for b in epoch] == [4, 4, 2] and sorted(torch.cat(epoch).tolist()) == list(range(10))
    assert sampler.next_batch(rng).tolist() != epoch[0].tolist() and sampler.epochs_started == 2


def test_trainer_resumes_the_sampler_and_the_best_model(tmp_path):
    def setup():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        sampler, best = EpochSampler(20, 6), BestModel(model)
        x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))

        def step_loss(rng):
            idx = sampler.next_batch(rng)
            return torch.nn.functional.cross_entropy(model(x[idx]), y[idx])

        def monitor():
            best.update(-float(torch.nn.functional.cross_entropy(model(x), y)), trainer.result.steps)
            return {}

        trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.5), max_steps=10, out_dir=tmp_path,
                          batch_rng=torch.Generator().manual_seed(1), log_every=3, progress=False,
                          monitor=monitor, extra_state={"sampler": sampler, "best": best})
        return trainer, step_loss, best

    straight, loss, best_straight = setup()
    straight_result = straight.fit(loss)
    first, loss, _ = setup()
    first.max_steps = 5
    first.fit(loss)
    resumed, loss, best_resumed = setup()
    resumed.resume_dir = tmp_path
    assert resumed.fit(loss).losses == straight_result.losses
    assert best_resumed.step == best_straight.step and best_resumed.score == best_straight.score


# --- runs -------------------------------------------------------------------------------------

MODELS = "lconv,cnn,fc,gcn,lconv_official,cnn_official,fc_official"


def test_smoke_run_of_every_model(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = lconv("run", "-m", "experiment=image_classification", f"model={MODELS}", "scale=smoke", "logger=none", "data.verify=false",
                 f"hydra.sweep.dir={sweep}", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert proc.returncode == 0, proc.stderr
    rows = read_json(sweep / "summary.json")
    assert [r["status"] for r in rows] == ["ok"] * 7
    model_of = {r["job"]: next(o.split("=")[1] for o in r["overrides"] if o.startswith("model=")) for r in rows}
    counts = {model_of[r["job"]]: r["metrics"]["num_params"] for r in rows}
    assert counts["lconv"] == 188_362 and counts["cnn_official"] == 216_650 and counts["fc_official"] == 2_138_834
    for row in rows:
        assert 0.0 <= row["metrics"]["test_accuracy"] <= 1.0 and row["metrics"]["epochs"] == 2
    record = torch.load(sweep / "0" / "variant.pt")
    assert sorted(record["permutation"].tolist()) == list(range(784))
    assert (sweep / "0" / "figures" / "learning_curve.png").is_file()


def test_cifar_and_fashion_runs_on_fake_data(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = lconv("run", "-m", "experiment=image_classification", "dataset=fashion_mnist,cifar10,cifar100",
                 "variant=plain,rotated", "model=lconv", "scale=smoke", "logger=none", "data.verify=false", f"hydra.sweep.dir={sweep}",
                 cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert proc.returncode == 0, proc.stderr
    rows = read_json(sweep / "summary.json")
    assert [r["status"] for r in rows] == ["ok"] * 6
    cifar100 = [r for r in rows if "dataset=cifar100" in r["overrides"]]
    assert all(r["metrics"]["num_params"] == 5 * 2 * 1024 * 8 + 6 * 3 * 16 + 6 * 16 + 1024 * 16 * 100 + 100 for r in cifar100)


def test_missing_data_is_one_clear_line(tmp_path):
    proc = lconv("run", "experiment=image_classification", "logger=none", f"paths.output_dir={tmp_path / 'run'}",
                 cwd=tmp_path, env={"LCONV_DATA": str(tmp_path / "empty")})
    assert proc.returncode == 2
    assert "MNIST not found" in proc.stderr and "LCONV_DATA" in proc.stderr and "data.download=true" in proc.stderr


def test_interrupted_image_run_resumes_to_the_same_numbers(fake_root, tmp_path):
    args = ["experiment=image_classification", "scale=smoke", "logger=none", "data.verify=false", "trainer.epochs=150"]
    env = {**os.environ, "WANDB_MODE": "disabled", "LCONV_DATA": str(fake_root)}
    straight = lconv("run", *args, f"paths.output_dir={tmp_path / 'straight'}", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert straight.returncode == 0, straight.stderr
    run_dir = tmp_path / "interrupted"
    proc = subprocess.Popen([LCONV, "run", *args, f"paths.output_dir={run_dir}"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(run_dir / "run.log", "training started")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    resumed = lconv("run", f"resume={run_dir}", cwd=tmp_path, env={"LCONV_DATA": str(fake_root)})
    assert resumed.returncode == 0, resumed.stderr
    step = int((run_dir / "run.log").read_text().split("resumed from")[1].split(" at step ")[1].split("/")[0])
    assert 0 < step < 1350, "the interrupt must land mid-training"

    def timeless(path):
        return {k: v for k, v in read_json(path)["metrics"].items() if "second" not in k}

    assert timeless(run_dir / "metrics.json") == timeless(tmp_path / "straight" / "metrics.json")
