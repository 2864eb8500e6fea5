"""The generator model's exp methods, seed streams, and the training loop's guarantees."""

import math

import pytest
import torch

from lconv_cli.errors import Diverged, UserError
from lconv_cli.models import ExpGenerator
from lconv_cli.train.seeding import seeded_generators
from lconv_cli.train.trainer import Trainer


def _model(method, **kwargs):
    return ExpGenerator(6, method=method, init_scale=0.3, generator=torch.Generator().manual_seed(0), **kwargs).double()


def test_exp_methods_agree_where_they_should():
    f = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    theta = torch.tensor([0.1, 0.5, -0.8, 1.2], dtype=torch.float64)
    exact = _model("matrix_exp")(f, theta)
    torch.testing.assert_close(_model("taylor", order=16)(f, theta), exact, rtol=1e-10, atol=1e-10)
    recursive = _model("recursive", recursion_steps=3)
    lmat = recursive.generator_matrix.detach()
    expected = torch.stack(
        [torch.linalg.matrix_power(torch.eye(6, dtype=torch.float64) + t * lmat / 3, 3) @ v for t, v in zip(theta, f)]
    )
    torch.testing.assert_close(recursive(f, theta), expected, rtol=1e-12, atol=1e-12)
    assert (recursive(f, theta) - exact).abs().max() > 1e-4  # K=3 is visibly biased


def test_same_seed_same_initialisation_and_bad_method():
    assert torch.equal(_model("taylor").generator_matrix, _model("taylor").generator_matrix)
    with pytest.raises(ValueError, match="method"):
        ExpGenerator(4, method="pade")


def test_seed_streams_are_independent_and_reproducible():
    a, b = seeded_generators(0, "train", "test"), seeded_generators(0, "train", "test")
    assert torch.equal(torch.rand(5, generator=a["train"]), torch.rand(5, generator=b["train"]))
    assert not torch.equal(torch.rand(5, generator=a["test"]), torch.rand(5, generator=seeded_generators(1, "train", "test")["test"]))
    first, second = seeded_generators(0, "train", "test"), seeded_generators(0, "train", "test")
    assert not torch.equal(torch.rand(5, generator=first["train"]), torch.rand(5, generator=second["test"]))


def _quadratic_trainer(tmp_path, max_steps, resume_dir=None, lr=0.1):
    torch.manual_seed(0)
    weight = torch.nn.Linear(3, 1)
    data_rng = torch.Generator().manual_seed(1)
    optimizer = torch.optim.Adam(weight.parameters(), lr=lr)
    trainer = Trainer(weight, optimizer, max_steps=max_steps, out_dir=tmp_path, batch_rng=data_rng, log_every=5,
                      progress=False, resume_dir=resume_dir, monitor=lambda: {"w0": float(weight.weight[0, 0])})

    def step_loss(rng):
        x = torch.randn(8, 3, generator=rng)
        return ((weight(x).squeeze(-1) - x.sum(-1)) ** 2).mean()

    return trainer, step_loss


def test_checkpoint_resume_is_exact(tmp_path):
    straight, loss = _quadratic_trainer(tmp_path / "a", 30)
    (tmp_path / "a").mkdir()
    full = straight.fit(loss)
    (tmp_path / "b").mkdir()
    first, loss_b = _quadratic_trainer(tmp_path / "b", 10)  # stops on a log point, as an interrupt would between them
    first.fit(loss_b)
    resumed, loss_c = _quadratic_trainer(tmp_path / "b", 30, resume_dir=tmp_path / "b")
    result = resumed.fit(loss_c)
    assert result.losses == full.losses
    assert [m[2] for m in result.monitored] == [m[2] for m in full.monitored]
    assert torch.equal(resumed.model.weight, straight.model.weight)
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert state["complete"] and state["step"] == 30


def test_nan_loss_raises_diverged(tmp_path):
    trainer, _ = _quadratic_trainer(tmp_path, 10)
    with pytest.raises(Diverged, match="at step 1"):
        trainer.fit(lambda rng: torch.tensor(math.nan, requires_grad=True))


def test_resume_without_checkpoint_is_a_user_error(tmp_path):
    trainer, loss = _quadratic_trainer(tmp_path, 5, resume_dir=tmp_path / "missing")
    with pytest.raises(UserError, match="no checkpoint"):
        trainer.fit(loss)


def test_schedules_by_name():
    from omegaconf import OmegaConf

    from lconv_cli.train.optim import make_optimizer, make_schedule

    cfg = OmegaConf.create({"optimizer": "adam", "lr": 0.1, "lr_schedule": "cosine", "max_steps": 10})
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = make_optimizer(params, cfg)
    schedule = make_schedule(optimizer, cfg)
    for _ in range(10):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert make_schedule(optimizer, OmegaConf.merge(cfg, {"lr_schedule": "constant"})) is None
    with pytest.raises(UserError, match="trainer.lr_schedule must be one of constant, cosine"):
        make_schedule(optimizer, OmegaConf.merge(cfg, {"lr_schedule": "cyclic"}))
